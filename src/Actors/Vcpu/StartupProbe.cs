using System.Diagnostics;

namespace ActorVmm.Actors.Vcpu;

/// <summary>
/// Records when the first vCPU of the process is about to enter KVM_RUN, for the start-up benchmark. With
/// <c>ACTORVMM_STARTUP_REPORT=1</c> it prints one line to stderr: milliseconds from process start to that moment.
/// </summary>
public static class StartupProbe
{
    private static long _firstRunTicks;

    /// <summary>Time from process start to the first KVM_RUN, once it happened.</summary>
    public static TimeSpan? FirstRun
    {
        get
        {
            var ticks = Interlocked.Read(ref _firstRunTicks);
            return ticks == 0 ? null : TimeSpan.FromTicks(ticks);
        }
    }

    /// <summary>With <c>ACTORVMM_STARTUP_REPORT=1</c>, prints how long after process start <paramref name="phase"/> ended.</summary>
    public static void Mark(string phase)
    {
        if (Environment.GetEnvironmentVariable("ACTORVMM_STARTUP_REPORT") == "1")
        {
            var elapsed = DateTime.Now - Process.GetCurrentProcess().StartTime;
            Console.Error.WriteLine($"actorvmm: startup: {phase} {elapsed.TotalMilliseconds:F1} ms after process start{Runtime()}");
        }
    }

    public static void MarkFirstRun()
    {
        if (Interlocked.Read(ref _firstRunTicks) != 0)
        {
            return;
        }

        var elapsed = DateTime.Now - Process.GetCurrentProcess().StartTime;
        if (Interlocked.CompareExchange(ref _firstRunTicks, Math.Max(1, elapsed.Ticks), 0) == 0
            && Environment.GetEnvironmentVariable("ACTORVMM_STARTUP_REPORT") == "1")
        {
            Console.Error.WriteLine($"actorvmm: startup: first KVM_RUN {elapsed.TotalMilliseconds:F1} ms after process start{Runtime()}");
        }
    }

    // What the runtime spent so far: methods compiled at run time (not precompiled by ReadyToRun) and assemblies loaded.
    private static string Runtime() =>
        $" (JIT: {System.Runtime.JitInfo.GetCompiledMethodCount()} methods in {System.Runtime.JitInfo.GetCompilationTime().TotalMilliseconds:F0} ms;"
        + $" {AppDomain.CurrentDomain.GetAssemblies().Length} assemblies)";
}
