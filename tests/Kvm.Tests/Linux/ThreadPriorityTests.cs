using ActorVmm.Kvm.Linux;
using Xunit;

namespace ActorVmm.Kvm.Tests.Linux;

public sealed class ThreadPriorityTests
{
    [Fact]
    public void Lowering_a_threads_priority_should_change_that_thread_only()
    {
        var before = ThreadScheduling.CurrentNice();
        int? seen = null;
        var lowered = false;
        var thread = new Thread(() =>
        {
            lowered = ThreadScheduling.TryLowerCurrentThreadPriority(5);
            seen = ThreadScheduling.CurrentNice();
        });

        thread.Start();
        thread.Join();

        Assert.True(lowered);
        Assert.Equal(Math.Max(before, 5), seen);
        Assert.Equal(before, ThreadScheduling.CurrentNice());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    [InlineData(20)]
    public void Out_of_range_values_should_change_nothing(int nice)
    {
        var before = ThreadScheduling.CurrentNice();

        Assert.False(ThreadScheduling.TryLowerCurrentThreadPriority(nice));
        Assert.Equal(before, ThreadScheduling.CurrentNice());
    }
}
