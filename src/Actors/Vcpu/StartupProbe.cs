using System.Diagnostics;

namespace ActorVmm.Actors.Vcpu;

/// <summary>
/// Start-up timing for the start-up benchmark: when the program enables it (<c>ACTORVMM_STARTUP_REPORT=1</c>), each
/// phase and the first KVM_RUN of the process print one line, milliseconds since process start. Off by default.
/// </summary>
public static class StartupProbe
{
    private static TextWriter? _report;
    private static int _firstRunSeen;

    /// <summary>Reports to <paramref name="report"/> from now on (called once, by the program, before any VM starts).</summary>
    public static void Enable(TextWriter report) => _report = report;

    /// <summary>Reports how long after process start <paramref name="phase"/> ended.</summary>
    public static void Mark(string phase)
    {
        if (_report is { } report)
        {
            report.WriteLine($"actorvmm: startup: {phase} {SinceStart().TotalMilliseconds:F1} ms after process start{Runtime()}");
        }
    }

    /// <summary>Reports the first KVM_RUN of the process (later calls do nothing).</summary>
    public static void MarkFirstRun()
    {
        if (_report is not null && Interlocked.Exchange(ref _firstRunSeen, 1) == 0)
        {
            Mark("first KVM_RUN");
        }
    }

    private static TimeSpan SinceStart() => DateTime.Now - Process.GetCurrentProcess().StartTime;

    // What the runtime spent so far: methods compiled at run time and assemblies loaded.
    private static string Runtime() =>
        $" (JIT: {System.Runtime.JitInfo.GetCompiledMethodCount()} methods in {System.Runtime.JitInfo.GetCompilationTime().TotalMilliseconds:F0} ms;"
        + $" {AppDomain.CurrentDomain.GetAssemblies().Length} assemblies)";
}
