using ActorVmm.Actors.Settings;

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

    /// <summary>Reads <c>actorvmm.logging</c>; the level also accepts <c>warn</c>.</summary>
    internal static LoggingSettings FromConfig(HoconReader reader)
    {
        const string levelPath = "actorvmm.logging.level";
        var levelText = reader.String(levelPath).Trim();
        LoggingLevel level;
        if (string.Equals(levelText, "warn", StringComparison.OrdinalIgnoreCase))
        {
            level = LoggingLevel.Warning;
        }
        else if (!ValueParsers.TryParseEnum(levelText, out level))
        {
            throw reader.Fail(levelPath, $"must be {ValueParsers.Choices<LoggingLevel>()}: {levelText}");
        }

        return new LoggingSettings(
            level,
            reader.Bool("actorvmm.logging.console"),
            reader.OptionalString("actorvmm.logging.file"),
            reader.Enum<LogFormat>("actorvmm.logging.format"));
    }
}
