using System.Runtime.CompilerServices;
using ActorVmm.Kvm.Linux;
using Xunit;

namespace ActorVmm.Kvm.Tests.Linux;

public class EpollTests
{
    [Fact]
    public void EpollEvent_should_match_the_packed_x86_64_layout()
    {
        var s = default(EpollEvent);
        Assert.Equal(12, Unsafe.SizeOf<EpollEvent>());
        Assert.Equal(0, (int)Unsafe.ByteOffset(ref Unsafe.As<EpollEvent, byte>(ref s), ref Unsafe.As<uint, byte>(ref s.Events)));
        Assert.Equal(4, (int)Unsafe.ByteOffset(ref Unsafe.As<EpollEvent, byte>(ref s), ref Unsafe.As<ulong, byte>(ref s.Data)));
    }

    [Fact]
    public void Wait_should_time_out_with_nothing_ready()
    {
        using var epoll = Epoll.Create();
        using var fd = EventFd.Create();
        epoll.Add(fd, 7);

        Assert.Equal(0, epoll.Wait(new ulong[4], 0));
    }

    [Fact]
    public void Wait_should_report_the_tags_of_every_signalled_eventfd_and_only_those()
    {
        using var epoll = Epoll.Create();
        var fds = Enumerable.Range(0, 40).Select(_ => EventFd.Create()).ToList();
        try
        {
            for (var i = 0; i < fds.Count; i++)
            {
                epoll.Add(fds[i], 0x1_0000_0000UL + (ulong)i); // a tag above 32 bits: the packed layout carries all 64
            }

            var signalled = Enumerable.Range(0, fds.Count).Where(i => i % 3 == 0).ToList();
            signalled.ForEach(i => fds[i].Write());

            var ready = new ulong[64];
            var n = epoll.Wait(ready, 1000);

            Assert.Equal(signalled.Select(i => 0x1_0000_0000UL + (ulong)i), ready[..n].Order());
        }
        finally
        {
            fds.ForEach(f => f.Dispose());
        }
    }

    [Fact]
    public void A_signalled_eventfd_should_stay_ready_until_read_and_a_removed_one_should_not_be_reported()
    {
        using var epoll = Epoll.Create();
        using var a = EventFd.Create();
        using var b = EventFd.Create();
        epoll.Add(a, 1);
        epoll.Add(b, 2);
        a.Write();
        b.Write();
        epoll.Remove(b);
        var ready = new ulong[4];

        Assert.Equal(1, epoll.Wait(ready, 1000));
        Assert.Equal(1UL, ready[0]);
        Assert.Equal(1, epoll.Wait(ready, 0));
        Assert.True(a.TryRead(out _));
        Assert.Equal(0, epoll.Wait(ready, 0));
    }

    [Fact]
    public void Wait_should_wake_when_another_thread_signals()
    {
        using var epoll = Epoll.Create();
        using var fd = EventFd.Create();
        epoll.Add(fd, 3);
        var writer = new Thread(() =>
        {
            Thread.Sleep(50);
            fd.Write();
        });
        writer.Start();

        var ready = new ulong[1];
        var n = epoll.Wait(ready, -1);
        writer.Join();

        Assert.Equal(1, n);
        Assert.Equal(3UL, ready[0]);
    }

    [Fact]
    public void Adding_the_same_descriptor_twice_should_name_the_errno()
    {
        using var epoll = Epoll.Create();
        using var fd = EventFd.Create();
        epoll.Add(fd, 1);

        var ex = Assert.Throws<KvmException>(() => epoll.Add(fd, 2));
        Assert.Contains("EEXIST", ex.Message);
    }
}
