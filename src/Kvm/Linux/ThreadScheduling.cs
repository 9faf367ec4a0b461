using System.Runtime.InteropServices;

namespace ActorVmm.Kvm.Linux;

/// <summary>Linux scheduling policy of the calling thread.</summary>
public static partial class ThreadScheduling
{
    /// <summary>SCHED_IDLE: the thread runs only when a CPU has nothing else to run.</summary>
    public const int SchedIdle = 5;

    /// <summary>
    /// Puts the calling thread in SCHED_IDLE, for background work that must never take a CPU from a vCPU (the
    /// trace writer: when it cannot keep up, events are dropped and counted, which is the documented behaviour).
    /// Returns false (and changes nothing) where Linux refuses.
    /// </summary>
    public static bool TryRunCurrentThreadWhenIdle()
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        var priority = 0; // struct sched_param { int sched_priority; }: 0 for SCHED_IDLE
        return SchedSetScheduler(0, SchedIdle, ref priority) == 0;
    }

    /// <summary>The calling thread's policy (SCHED_OTHER 0, SCHED_IDLE 5, ...), or -1.</summary>
    public static int CurrentPolicy() => OperatingSystem.IsLinux() ? SchedGetScheduler(0) : -1;

    [LibraryImport("libc", EntryPoint = "sched_setscheduler", SetLastError = true)]
    private static partial int SchedSetScheduler(int pid, int policy, ref int param);

    [LibraryImport("libc", EntryPoint = "sched_getscheduler", SetLastError = true)]
    private static partial int SchedGetScheduler(int pid);
}
