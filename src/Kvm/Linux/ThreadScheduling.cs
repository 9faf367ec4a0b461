using System.Runtime.InteropServices;

namespace ActorVmm.Kvm.Linux;

/// <summary>Linux scheduling policy and CPU affinity of the calling thread.</summary>
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

    /// <summary>
    /// The CPUs this process may run on (sched_getaffinity of the process's main thread: what taskset or the cpuset
    /// cgroup allow it), which a pin list must stay within.
    /// </summary>
    /// <exception cref="KvmException">sched_getaffinity failed.</exception>
    public static CpuSet AllowedCpus() => GetAffinity(Environment.ProcessId);

    /// <summary>The CPUs the calling thread may run on.</summary>
    /// <exception cref="KvmException">sched_getaffinity failed.</exception>
    public static CpuSet CurrentThreadCpus() => GetAffinity(0);

    /// <summary>
    /// Pins the calling thread to <paramref name="cpus"/> (sched_setaffinity(0, ...)): from now on it runs only there.
    /// Linux gives a new thread its creator's mask, so a thread this one creates is pinned too — including a .NET
    /// thread-pool worker the runtime happens to inject from it when it queues work (seen on this machine: of four
    /// workers injected while a pinned thread queued 64 blocking items, the one it created itself kept its CPU).
    /// </summary>
    /// <exception cref="KvmException">Linux refused (EINVAL: none of the CPUs is allowed to this process).</exception>
    public static void PinCurrentThread(CpuSet cpus)
    {
        ArgumentNullException.ThrowIfNull(cpus);
        var mask = cpus.ToMask();
        if (SchedSetAffinity(0, (nuint)mask.Length, mask) != 0)
        {
            throw Failed($"sched_setaffinity({cpus})");
        }
    }

    /// <summary>
    /// <see cref="PinCurrentThread"/> for a VMM I/O thread, where a refusal must not end the thread: null (nothing
    /// to do) and a pinning Linux refuses (the CPUs were checked when the VM was built; the cpuset shrank since)
    /// both leave the thread as it is. False when refused.
    /// </summary>
    public static bool TryPinCurrentThread(CpuSet? cpus)
    {
        if (cpus is null)
        {
            return true;
        }

        try
        {
            PinCurrentThread(cpus);
            return true;
        }
        catch (KvmException)
        {
            return false;
        }
    }

    private static CpuSet GetAffinity(int pid)
    {
        var mask = new byte[CpuSet.MaskBytes];
        if (SchedGetAffinity(pid, (nuint)mask.Length, mask) != 0)
        {
            throw Failed("sched_getaffinity");
        }

        return CpuSet.FromMask(mask) ?? throw new KvmException("sched_getaffinity", "no CPU in the mask");
    }

    /// <summary>The one place an affinity call's errno becomes an exception.</summary>
    private static KvmException Failed(string call) => new(call, Marshal.GetLastPInvokeError());

    /// <summary>The kernel writes at most <paramref name="size"/> bytes of mask (a cpu_set_t here: 1024 CPUs).</summary>
    [LibraryImport("libc", EntryPoint = "sched_getaffinity", SetLastError = true)]
    private static partial int SchedGetAffinity(int pid, nuint size, [Out] byte[] mask);

    [LibraryImport("libc", EntryPoint = "sched_setaffinity", SetLastError = true)]
    private static partial int SchedSetAffinity(int pid, nuint size, [In] byte[] mask);

    [LibraryImport("libc", EntryPoint = "sched_setscheduler", SetLastError = true)]
    private static partial int SchedSetScheduler(int pid, int policy, ref int param);

    [LibraryImport("libc", EntryPoint = "sched_getscheduler", SetLastError = true)]
    private static partial int SchedGetScheduler(int pid);
}
