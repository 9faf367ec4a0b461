using ActorVmm.Actors.Settings;

namespace ActorVmm.Actors.Tracing;

/// <summary>Makes the <see cref="VmTracer"/> that <c>actorvmm.tracing</c> asks for, and prints its report at exit.</summary>
public static class TracingSetup
{
    /// <summary>
    /// A tracer for <paramref name="settings"/>: statistics when <c>stats = on</c>, a trace file when
    /// <c>trace-file</c> is set; null when neither (the VM then pays one null check per exit).
    /// </summary>
    /// <exception cref="IOException">The trace file cannot be created.</exception>
    public static VmTracer? Create(TracingSettings settings, string vmName)
    {
        var file = string.IsNullOrWhiteSpace(settings.TraceFile) ? null : settings.TraceFile;
        if (!settings.Stats && file is null)
        {
            return null;
        }

        ITraceEventWriter? writer = file is null
            ? null
            : settings.TraceFormat == TraceFormat.Jsonl
                ? JsonlTraceWriter.Create(file, vmName)
                : ChromeTraceWriter.Create(file, vmName);
        return new VmTracer(settings.Stats, writer, settings.Buffer, settings.LatencySample);
    }

    /// <summary>
    /// Once the VM has stopped: finishes the trace file, then (stats on) prints the tables to
    /// <paramref name="stderr"/> (default: the process's stderr; the guest console owns stdout), and reports
    /// dropped trace events either way.
    /// </summary>
    public static async Task FinishAsync(VmTracer? tracer, TracingSettings settings, TextWriter? stderr = null)
    {
        if (tracer is null)
        {
            return;
        }

        var error = stderr ?? System.Console.Error;
        await tracer.CompleteAsync().ConfigureAwait(false);
        if (settings.Stats)
        {
            var terminal = stderr is null && !System.Console.IsErrorRedirected;
            StatsReport.Write(tracer.Statistics(), error, terminal, terminal ? Math.Max(80, SafeWindowWidth()) : 120);
        }
        else if (tracer.Dropped > 0)
        {
            error.WriteLine($"actorvmm: {tracer.Dropped} trace events were dropped (the trace writer fell behind; raise actorvmm.tracing.buffer)");
        }

        if (!string.IsNullOrWhiteSpace(settings.TraceFile))
        {
            error.WriteLine($"actorvmm: trace written to {settings.TraceFile} ({settings.TraceFormat.ToString().ToLowerInvariant()})");
        }
    }

    private static int SafeWindowWidth()
    {
        try
        {
            return System.Console.WindowWidth;
        }
        catch (IOException)
        {
            return 120;
        }
    }
}
