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
}
