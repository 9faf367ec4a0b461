using ActorVmm.Actors.Tracing;
using ActorVmm.Host.Tracing;

namespace ActorVmm.Bench;

/// <summary>One way to run the same workload: a name and a factory for its tracer (null: tracing off).</summary>
internal sealed record TracingMode(string Name, Func<VmTracer?> Tracer);

/// <summary>
/// One timed run: exits per second, trace events dropped, bytes allocated (all threads) per exit, and the rate over
/// the whole run when <see cref="Rate"/> is measured over parts of it (else 0).
/// </summary>
internal readonly record struct ModeRun(double Rate, long Dropped, double BytesPerExit, double WholeRunRate = 0);

/// <summary>
/// The tracing benchmarks' shared protocol: tracing off, statistics only, statistics + jsonl, statistics + Chrome;
/// every mode once per round, the order rotated each round (so load drift and "who runs after whom" hit every mode
/// alike), then per mode the median exits/s, the spread (min-max), and the cost against tracing off both from the
/// medians and paired within each round (median and range of the per-round costs).
/// </summary>
internal static class TracingModes
{
    /// <param name="clockOnly">
    /// Add diagnostic modes: one that does only what every traced exit pays before recording anything (clock reads
    /// and the route lookup: a tracer with statistics and file both off), a full trace whose writer discards, and
    /// statistics with every exit timed (two clock reads per exit, as a trace to a file takes).
    /// </param>
    public static TracingMode[] Standard(string jsonl, string chrome, int buffer, bool clockOnly = false) =>
    [
        new("tracing off", () => null),
        new("statistics only", () => new VmTracer(statistics: true)),
        new("statistics + jsonl trace", () => new VmTracer(true, JsonlTraceWriter.Create(jsonl, "bench"), buffer)),
        new("statistics + chrome trace", () => new VmTracer(true, ChromeTraceWriter.Create(chrome, "bench"), buffer)),
        .. clockOnly ? new[]
        {
            new TracingMode("(clock reads only)", () => new VmTracer(statistics: false)),
            new TracingMode("(trace, writer discards)", () => new VmTracer(true, new DiscardingTraceWriter(), buffer)),
            new TracingMode("(statistics, every exit timed)", () => new VmTracer(statistics: true, latencySampleInterval: 1)),
        } : [],
    ];

    /// <summary>
    /// Diagnostic: everything a full trace does on the vCPU thread (both clock reads, the record into the ring) and
    /// the writer thread's draining, but no formatting and no file: separates the vCPU's share from the writer's.
    /// </summary>
    private sealed class DiscardingTraceWriter : ITraceEventWriter
    {
        public void Write(in TraceEvent e)
        {
        }

        public ValueTask FinishAsync(long dropped) => ValueTask.CompletedTask;

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>One warm-up run per mode, then <paramref name="rounds"/> rounds; results[mode][round].</summary>
    public static ModeRun[][] Run(TracingMode[] modes, int rounds, Action<TracingMode> warmUp, Func<TracingMode, ModeRun> run)
    {
        foreach (var mode in modes)
        {
            warmUp(mode);
        }

        var results = modes.Select(_ => new ModeRun[rounds]).ToArray();
        for (var round = 0; round < rounds; round++)
        {
            for (var i = 0; i < modes.Length; i++)
            {
                var m = (round + i) % modes.Length;
                results[m][round] = run(modes[m]);
            }

            Console.Error.WriteLine($"round {round + 1}/{rounds}: {string.Join("  ", modes.Select((mode, m) => $"{mode.Name} {results[m][round].Rate:N0}"))}");
        }

        return results;
    }

    /// <summary>The table: mode 0 is the baseline.</summary>
    public static void Print(TracingMode[] modes, ModeRun[][] results, TextWriter output)
    {
        var baseline = results[0];
        var baseRate = Median(baseline.Select(r => r.Rate));
        output.WriteLine($"{"mode",-26} {"median exits/s",15} {"min - max",23} {"spread",7} {"cost",7} {"paired cost: median [min, max]",32} {"dropped",9} {"B/exit",7} {"whole-run median",17}");
        for (var m = 0; m < modes.Length; m++)
        {
            var rates = results[m].Select(r => r.Rate).ToArray();
            var rate = Median(rates);
            var spread = (rates.Max() - rates.Min()) / rate * 100;
            string cost = "-", paired = "-";
            if (m > 0)
            {
                cost = $"{(1 - rate / baseRate) * 100:0.0}%";
                var perRound = results[m].Select((r, round) => (1 - r.Rate / baseline[round].Rate) * 100).ToArray();
                paired = $"{Median(perRound):0.0}% [{perRound.Min():0.0}%, {perRound.Max():0.0}%]";
            }

            output.WriteLine($"{modes[m].Name,-26} {rate,15:N0} {$"{rates.Min():N0} - {rates.Max():N0}",23} {spread,6:0.0}% {cost,7} {paired,32} {results[m].Max(r => r.Dropped),9:N0} {Median(results[m].Select(r => r.BytesPerExit)),7:0.0} {WholeRun(results[m]),17}");
        }
    }

    private static string WholeRun(ModeRun[] runs) =>
        runs.All(r => r.WholeRunRate > 0) ? Median(runs.Select(r => r.WholeRunRate)).ToString("N0") : "-";

    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
