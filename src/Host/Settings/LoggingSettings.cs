using ActorVmm.Actors.Settings;
using ActorVmm.Actors.Faults;

namespace ActorVmm.Host.Settings;

/// <summary>Minimum level of the VMM's own logs.</summary>
public enum LoggingLevel
{
    Debug,
    Info,
    Warning,
    Error,
    Off,
}

/// <summary>Log line format.</summary>
public enum LogFormat
{
    /// <summary>Human-readable text.</summary>
    Text,

    /// <summary>Compact JSON (CLEF), one event a line.</summary>
    Json,
}

/// <summary><c>actorvmm.logging</c>: logs of the VMM itself (never the guest's console output).</summary>
/// <param name="Level">Minimum level.</param>
/// <param name="Console">Write logs to stderr.</param>
/// <param name="File">Also append logs to this file; null for none.</param>
/// <param name="Format">Format of both sinks.</param>
public sealed record LoggingSettings(LoggingLevel Level, bool Console, string? File, LogFormat Format)
{
    public static readonly LoggingSettings Default = new(LoggingLevel.Info, true, null, LogFormat.Text);
}
