using System.Collections.Concurrent;
using ActorVmm.Actors.Net;
using ActorVmm.Devices.Net;
using ActorVmm.Kvm.Linux;
using ActorVmm.TestSupport.Net;
using Xunit;

namespace ActorVmm.Actors.Tests.Net;

/// <summary>
/// A TapLink against a real TAP made for each spec (<see cref="ScratchTap"/>: needs root or CAP_NET_ADMIN, and fails
/// rather than skips without). The host's kernel is the peer: it answers ARP for its address on the TAP.
/// </summary>
public sealed class TapLinkSpecs
{
    /// <summary>An upper bound for the kernel's answer, not a timing assertion.</summary>
    private static readonly TimeSpan _patience = TimeSpan.FromSeconds(20);

    private const ulong GuestCsum = 1UL << 1;
    private const ulong GuestTso4 = 1UL << 7;
    private const ulong GuestTso6 = 1UL << 8;
    private const ulong GuestEcn = 1UL << 9;
    private const ulong GuestUfo = 1UL << 10;

    [Fact]
    public void An_ARP_request_sent_through_the_tap_should_be_answered_by_the_host_and_delivered_back()
    {
        using var scratch = new ScratchTap();
        using var link = TapLink.Open(scratch.Name);
        var delivered = new BlockingCollection<byte[]>();
        link.Start(delivered.Add);

        // Asked again until answered, as a guest does: the host drops its first replies while the tap's carrier, on
        // since the open, is still being switched on (linkwatch attaches the tap's qdisc asynchronously).
        var reply = TakeUntil(
            delivered,
            f => NetTestFrames.IsArpReply(f, scratch.HostAddress, NetTestFrames.Guest, out _),
            () => link.Send(NetTestFrames.ArpRequest(NetTestFrames.Guest, scratch.PeerAddress, scratch.HostAddress)));
        Assert.True(NetTestFrames.IsArpReply(reply, scratch.HostAddress, NetTestFrames.Guest, out var hostMac));
        Assert.Equal(File.ReadAllText($"/sys/class/net/{scratch.Name}/address").Trim(), hostMac.ToString());
        Assert.Equal(NetTestFrames.Guest, NetFrame.Destination(reply));
        Assert.Equal(0, reply[10] | reply[11]); // num_buffers, which the kernel does not write
        Assert.True(link.FramesOut >= 1);
        Assert.Equal(42 * link.FramesOut, link.BytesOut);
        Assert.Equal(0, link.Dropped);
        Assert.True(link.FramesIn >= 1);
        Assert.Equal($"tap {scratch.Name}", link.Description);
        Assert.Null(link.ReadFailure);
    }

    [Fact]
    public void A_frame_the_tap_refuses_should_be_dropped_and_counted_not_thrown()
    {
        using var scratch = new ScratchTap();
        using var link = TapLink.Open(scratch.Name);
        var arp = NetTestFrames.ArpRequest(NetTestFrames.Guest, scratch.PeerAddress, scratch.HostAddress);
        arp[1] = 0x42; // gso_type: no such GSO kind, which the kernel refuses (EINVAL)

        link.Send(arp);
        link.Send(new byte[NetFrame.HeaderSize + 3]); // too short to hold an Ethernet header

        Assert.Equal(2, link.Dropped);
        Assert.Equal(0, link.FramesOut);
        Assert.Equal(22, link.LastWriteErrno);
    }

    [Fact]
    public void The_guest_receive_offloads_should_become_the_taps_offload_flags()
    {
        using var scratch = new ScratchTap();
        using var link = TapLink.Open(scratch.Name);
        Assert.Equal(TapOffloads.None, link.Offloads);

        link.SetGuestOffloads(GuestCsum | GuestTso4 | GuestTso6 | GuestEcn | GuestUfo);
        var all = link.Offloads;
        link.SetGuestOffloads(GuestTso4); // TSO without checksum offload: the kernel would refuse it
        var tsoOnly = link.Offloads;
        link.SetGuestOffloads(0);

        Assert.Equal(TapOffloads.Checksum | TapOffloads.Tso4 | TapOffloads.Tso6 | TapOffloads.TsoEcn, all & ~TapOffloads.Ufo);
        Assert.Equal(TapOffloads.None, tsoOnly);
        Assert.Equal(TapOffloads.None, link.Offloads);
    }

    [Theory]
    [InlineData(0UL, TapOffloads.None)]
    [InlineData(GuestCsum, TapOffloads.Checksum)]
    [InlineData(GuestTso4 | GuestTso6 | GuestUfo, TapOffloads.None)]
    [InlineData(GuestCsum | GuestTso4, TapOffloads.Checksum | TapOffloads.Tso4)]
    [InlineData(GuestCsum | GuestEcn, TapOffloads.Checksum)]
    [InlineData(GuestCsum | GuestTso6 | GuestEcn, TapOffloads.Checksum | TapOffloads.Tso6 | TapOffloads.TsoEcn)]
    [InlineData(GuestCsum | GuestUfo | (1UL << 32), TapOffloads.Checksum | TapOffloads.Ufo)]
    public void Acked_features_should_map_to_the_offload_sets_the_kernel_accepts(ulong acked, TapOffloads expected)
    {
        Assert.Equal(expected, TapLink.ToTapOffloads(acked));
    }

    [Fact]
    public void A_tap_already_attached_should_be_refused_with_one_line_saying_it_is_in_use()
    {
        using var scratch = new ScratchTap();
        using var first = TapDevice.Open(scratch.Name);

        var ex = Assert.Throws<TapException>(() => TapDevice.Open(scratch.Name));

        Assert.Equal($"tap '{scratch.Name}' is in use by another process (a single-queue tap takes one reader): stop that one or use another tap", ex.Message);
    }

    [Fact]
    public void A_tun_device_should_be_refused_with_one_line_saying_to_recreate_it_as_a_tap()
    {
        using var scratch = new ScratchTap(mode: "tun");

        var ex = Assert.Throws<TapException>(() => TapDevice.Open(scratch.Name));

        Assert.Equal($"'{scratch.Name}' is a tun (layer 3) device, not a tap: recreate it with 'ip tuntap del dev {scratch.Name} mode tun' and 'ip tuntap add dev {scratch.Name} mode tap user $USER'", ex.Message);
    }

    [Fact]
    public void Deleting_the_tap_under_a_running_link_should_end_its_reader_with_a_reason()
    {
        var scratch = new ScratchTap();
        using var link = TapLink.Open(scratch.Name);
        link.Start(_ => { });

        scratch.Dispose();

        Assert.True(SpinWait.SpinUntil(() => link.ReadFailure is not null, _patience), "the reader did not notice the tap was deleted");
        Assert.Equal($"tap '{scratch.Name}' went away (deleted while attached): read failed: EBADFD", link.ReadFailure);
        link.Send(NetTestFrames.ArpRequest(NetTestFrames.Guest, scratch.PeerAddress, scratch.HostAddress));
        Assert.Equal(1, link.Dropped);
    }

    [Fact]
    public void A_disposed_link_should_drop_sends_and_refuse_to_start()
    {
        using var scratch = new ScratchTap();
        var link = TapLink.Open(scratch.Name);
        link.Start(_ => { });

        link.Dispose();
        link.Send(NetTestFrames.ArpRequest(NetTestFrames.Guest, scratch.PeerAddress, scratch.HostAddress));

        Assert.Equal(1, link.Dropped);
        Assert.Throws<ObjectDisposedException>(() => link.Start(_ => { }));
        using var reopened = TapDevice.Open(scratch.Name); // the descriptor was closed: the tap takes a new reader
    }

    /// <summary>Calls <paramref name="ask"/> every 200 ms until a wanted frame is delivered (or the patience runs out).</summary>
    private static byte[] TakeUntil(BlockingCollection<byte[]> frames, Func<byte[], bool> wanted, Action ask)
    {
        var deadline = DateTime.UtcNow + _patience;
        while (DateTime.UtcNow < deadline)
        {
            ask();
            var askAgain = DateTime.UtcNow + TimeSpan.FromMilliseconds(200);
            while (DateTime.UtcNow < askAgain && frames.TryTake(out var frame, askAgain - DateTime.UtcNow > TimeSpan.Zero ? askAgain - DateTime.UtcNow : TimeSpan.Zero))
            {
                if (wanted(frame))
                {
                    return frame;
                }
            }
        }

        throw new Xunit.Sdk.XunitException($"no wanted frame within {_patience.TotalSeconds} s");
    }
}
