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

    /// <summary>
    /// Lowers the calling thread's share of a contended CPU (nice <paramref name="nice"/>, 1..19) without taking
    /// any CPU away from it while the CPU is otherwise idle. For queue workers: a vCPU thread that wakes to answer
    /// a register access then preempts a worker copying a large request, instead of waiting out its time slice.
    /// Returns false (and changes nothing) where Linux refuses.
    /// </summary>
    public static bool TryLowerCurrentThreadPriority(int nice)
    {
        if (!OperatingSystem.IsLinux() || nice is < 1 or > 19)
        {
            return false;
        }

        // setpriority(PRIO_PROCESS, tid): on Linux a thread id names just that thread.
        return SetPriority(0, GetTid(), nice) == 0;
    }

    /// <summary>The calling thread's nice value (0 normally), or int.MinValue.</summary>
    public static int CurrentNice()
    {
        if (!OperatingSystem.IsLinux())
        {
            return int.MinValue;
        }

        Marshal.SetLastPInvokeError(0);
        var nice = GetPriority(0, GetTid());
        return nice == -1 && Marshal.GetLastPInvokeError() != 0 ? int.MinValue : nice;
    }

    /// <summary>The calling thread's policy (SCHED_OTHER 0, SCHED_IDLE 5, ...), or -1.</summary>
    public static int CurrentPolicy() => OperatingSystem.IsLinux() ? SchedGetScheduler(0) : -1;

    [LibraryImport("libc", EntryPoint = "sched_setscheduler", SetLastError = true)]
    private static partial int SchedSetScheduler(int pid, int policy, ref int param);

    [LibraryImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    private static partial int SetPriority(int which, int who, int prio);

    [LibraryImport("libc", EntryPoint = "getpriority", SetLastError = true)]
    private static partial int GetPriority(int which, int who);

    [LibraryImport("libc", EntryPoint = "gettid")]
    private static partial int GetTid();

    [LibraryImport("libc", EntryPoint = "sched_getscheduler", SetLastError = true)]
    private static partial int SchedGetScheduler(int pid);
}
