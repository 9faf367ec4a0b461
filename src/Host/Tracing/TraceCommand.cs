using System.CommandLine;
using ActorVmm.Actors.Tracing;

namespace ActorVmm.Host.Tracing;

/// <summary>
/// <c>actorvmm trace summarize FILE</c> (the <c>run --stats</c> tables from a saved trace, on stdout) and
/// <c>actorvmm trace report FILE --html OUT</c> (a self-contained HTML page). Either trace format.
/// </summary>
public static class TraceCommand
{
    /// <param name="output">Where tables go.</param>
    /// <param name="error">Where one-line errors go.</param>
    /// <param name="setExitCode">Receives the exit code (0, or 2 for a bad file).</param>
    public static Command Create(TextWriter output, TextWriter error, Action<int> setExitCode)
    {
        var trace = new Command("trace", "Read a saved VM-exit trace (chrome or jsonl).");

        var file = new Argument<string>("FILE") { Description = "Trace file written by run --trace" };
        var summarize = new Command("summarize", "Print the exit statistics tables of a saved trace.");
        summarize.Arguments.Add(file);
        summarize.SetAction(result => setExitCode(Guard(error, () =>
        {
            var loaded = TraceFile.Read(result.GetValue(file)!);
            StatsReport.Write(loaded.Statistics(), output, terminal: false, width: 120,
                title: $"VM-exit statistics of {Path.GetFileName(result.GetValue(file))} (vm {loaded.Vm}, {loaded.Format.ToString().ToLowerInvariant()}): {loaded.Events.Count(e => e.Kind.IsExit())} exits");
        })));

        var reportFile = new Argument<string>("FILE") { Description = "Trace file written by run --trace" };
        var html = new Option<string>("--html") { Description = "Write the report to OUT (a self-contained HTML page)", HelpName = "OUT", Required = true };
        var report = new Command("report", "Write an HTML report (tables, exit rate over time, latency histograms) of a saved trace.");
        report.Arguments.Add(reportFile);
        report.Options.Add(html);
        report.SetAction(result => setExitCode(Guard(error, () =>
        {
            var loaded = TraceFile.Read(result.GetValue(reportFile)!);
            File.WriteAllText(result.GetValue(html)!, HtmlReport.Render(loaded, Path.GetFileName(result.GetValue(reportFile)!)));
            error.WriteLine($"actorvmm: report written to {result.GetValue(html)}");
        })));

        trace.Subcommands.Add(summarize);
        trace.Subcommands.Add(report);
        return trace;
    }

    private static int Guard(TextWriter error, Action action)
    {
        try
        {
            action();
            return 0;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            error.WriteLine($"actorvmm: {e.Message.Split('\n')[0]}");
            return 2;
        }
    }
}
