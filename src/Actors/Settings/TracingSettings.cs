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

    /// <summary>Reads <c>actorvmm.tracing</c>; the buffer must be a power of two, the latency sample a number or <c>auto</c>.</summary>
    internal static TracingSettings FromConfig(HoconReader reader)
    {
        const string bufferPath = "actorvmm.tracing.buffer";
        var buffer = reader.Int(bufferPath, MinBuffer, MaxBuffer);
        if ((buffer & (buffer - 1)) != 0)
        {
            throw reader.Fail(bufferPath, $"must be a power of two: {buffer}");
        }

        const string samplePath = "actorvmm.tracing.latency-sample";
        int? sample = string.Equals(reader.String(samplePath), "auto", StringComparison.OrdinalIgnoreCase)
            ? null
            : reader.Int(samplePath, 1, MaxLatencySample);
        return new TracingSettings(
            reader.Bool("actorvmm.tracing.stats"),
            reader.OptionalString("actorvmm.tracing.trace-file"),
            reader.Enum<TraceFormat>("actorvmm.tracing.trace-format"),
            buffer,
            sample);
    }
}
