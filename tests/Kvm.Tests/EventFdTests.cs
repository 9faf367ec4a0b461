using Xunit;

namespace ActorVmm.Kvm.Tests;

public class EventFdTests
{
    [Fact]
    public void TryRead_should_return_false_when_nothing_was_written()
    {
        using var fd = EventFd.Create();

        Assert.False(fd.TryRead(out var value));
        Assert.Equal(0UL, value);
    }

    [Fact]
    public void Writes_should_add_up_until_read()
    {
        using var fd = EventFd.Create();
        fd.Write();
        fd.Write(41);

        Assert.True(fd.TryRead(out var value));
        Assert.Equal(42UL, value);
        Assert.False(fd.TryRead(out _));
    }

    [Fact]
    public void Semaphore_mode_should_count_down_one_at_a_time()
    {
        using var fd = EventFd.Create(semaphore: true);
        fd.Write(2);

        Assert.True(fd.IsSemaphore);
        Assert.True(fd.TryRead(out var first));
        Assert.True(fd.TryRead(out var second));
        Assert.False(fd.TryRead(out _));
        Assert.Equal(1UL, first);
        Assert.Equal(1UL, second);
    }

    [Fact]
    public void WaitReadable_should_report_readiness_without_consuming()
    {
        using var fd = EventFd.Create();

        Assert.False(fd.WaitReadable(0));
        fd.Write(7);
        Assert.True(fd.WaitReadable(0));
        Assert.Equal(7UL, fd.Read());
    }

    [Fact]
    public void Read_should_block_until_another_thread_writes()
    {
        using var fd = EventFd.Create();
        using var started = new ManualResetEventSlim();
        ulong received = 0;
        var reader = new Thread(() =>
        {
            started.Set();
            received = fd.Read();
        });
        reader.Start();
        started.Wait(TestContext.Current.CancellationToken);

        fd.Write(5);
        reader.Join();

        Assert.Equal(5UL, received);
    }

    [Fact]
    public void Write_should_refuse_the_value_eventfd_reserves()
    {
        using var fd = EventFd.Create();

        Assert.Throws<ArgumentOutOfRangeException>(() => fd.Write(ulong.MaxValue));
    }

    [Fact]
    public void Using_a_disposed_eventfd_should_throw_instead_of_touching_a_stale_descriptor()
    {
        var fd = EventFd.Create();
        fd.Dispose();

        Assert.Throws<ObjectDisposedException>(() => fd.Write());
    }
}
