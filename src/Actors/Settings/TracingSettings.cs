namespace ActorVmm.Actors.Settings;

/// <summary>Trace file format.</summary>
public enum TraceFormat
{
    /// <summary>Chrome trace-event JSON (Perfetto, chrome://tracing).</summary>
    Chrome,

    /// <summary>One JSON object a line.</summary>
    Jsonl,
}

/// <summary><c>actorvmm.tracing</c>: statistics and VM-exit tracing.</summary>
/// <param name="Stats">Print VM-exit and device statistics to stderr when the VM stops.</param>
/// <param name="TraceFile">Trace output file; null for no trace.</param>
/// <param name="TraceFormat">Trace file format.</param>
/// <param name="Buffer">Trace events buffered in memory (a power of two, 1024..16777216).</param>
/// <param name="LatencySample">
/// With statistics only: time about one exit in this many (1: every exit); null ("auto"): every exit, or one in 16
/// where a clock read is slow. A trace to a file always times every exit.
/// </param>
public sealed record TracingSettings(bool Stats, string? TraceFile, TraceFormat TraceFormat, int Buffer, int? LatencySample = null)
{
    public const int MaxLatencySample = 65536;

    public const int MinBuffer = 1024;
    public const int MaxBuffer = 1 << 24;

    public static readonly TracingSettings Default = new(false, null, TraceFormat.Chrome, 65536);
}
