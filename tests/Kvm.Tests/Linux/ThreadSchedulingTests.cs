using ActorVmm.Kvm.Linux;
using Xunit;

namespace ActorVmm.Kvm.Tests.Linux;

public class ThreadSchedulingTests
{
    [Fact]
    public void A_thread_made_idle_should_run_under_SCHED_IDLE_and_leave_other_threads_alone()
    {
        int before = -1, after = -1;
        var changed = false;
        var thread = new Thread(() =>
        {
            before = ThreadScheduling.CurrentPolicy();
            changed = ThreadScheduling.TryRunCurrentThreadWhenIdle();
            after = ThreadScheduling.CurrentPolicy();
        });
        thread.Start();
        thread.Join();

        Assert.Equal(0, before);
        Assert.True(changed);
        Assert.Equal(ThreadScheduling.SchedIdle, after);
        Assert.Equal(0, ThreadScheduling.CurrentPolicy());
    }

    [Fact]
    public void A_pinned_thread_should_run_only_on_its_cpu_and_leave_the_process_alone()
    {
        var allowed = ThreadScheduling.AllowedCpus();
        var cpu = allowed.Cpus[^1];
        CpuSet? seen = null;
        var thread = new Thread(() =>
        {
            ThreadScheduling.PinCurrentThread(CpuSet.Of(cpu));
            seen = ThreadScheduling.CurrentThreadCpus();
        });
        thread.Start();
        thread.Join();

        Assert.Equal(CpuSet.Of(cpu), seen);
        Assert.Equal(allowed, ThreadScheduling.AllowedCpus());
        Assert.Equal(File.ReadLines("/proc/self/status").Single(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal)).Split('\t')[1], allowed.ToString());
    }

    [Fact]
    public void Pinning_to_a_cpu_the_process_may_not_use_should_throw_EINVAL()
    {
        var outside = Enumerable.Range(0, CpuSet.MaxCpus).First(c => !ThreadScheduling.AllowedCpus().Contains(c));
        KvmException? error = null;
        var thread = new Thread(() => error = Record.Exception(() => ThreadScheduling.PinCurrentThread(CpuSet.Of(outside))) as KvmException);
        thread.Start();
        thread.Join();

        Assert.NotNull(error);
        Assert.Equal(22, error.Errno);
        Assert.Contains($"sched_setaffinity({outside})", error.Message, StringComparison.Ordinal);
    }
}
