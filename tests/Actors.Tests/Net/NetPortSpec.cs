using ActorVmm.Actors.Net;
using ActorVmm.Devices.Net;
using Xunit;

namespace ActorVmm.Actors.Tests.Net;

public class NetPortSpec
{
    private static readonly MacAddress Guest = Frames.Mac(1);
    private static readonly MacAddress Peer = Frames.Mac(2);

    [Fact]
    public void Frames_from_the_link_should_queue_for_the_guest_and_announce_themselves()
    {
        var link = new FakeLink();
        using var port = new NetPort("net0", link);
        var arrived = 0;
        port.FrameArrived = () => arrived++;

        link.Deliver(Frames.Make(Guest, Peer, 1));
        link.Deliver(Frames.Make(Guest, Peer, 2));

        Assert.Equal((2, 2), (port.PendingFrames, arrived));
        Assert.True(port.TryReceive(out var first));
        Assert.True(port.TryReceive(out var second));
        Assert.False(port.TryReceive(out _));
        Assert.Equal((1, 2), (Frames.Sequence(first), Frames.Sequence(second)));
        Assert.Equal((2, 2L * first.Length), (port.Counters.RxFrames, port.Counters.RxBytes));
        Assert.Equal(0, port.PendingBytes);
    }

    [Fact]
    public void A_guest_that_never_drains_should_cost_at_most_the_queue_bound()
    {
        var link = new FakeLink();
        using var port = new NetPort("net0", link);

        for (var i = 0; i < 1000; i++)
        {
            link.Deliver(Frames.Make(Guest, Peer, i));
        }

        Assert.Equal(NetPort.DefaultMaxPendingFrames, port.PendingFrames);
        Assert.Equal(1000 - NetPort.DefaultMaxPendingFrames, port.Counters.Dropped(NetDropReason.RxQueueFull));
    }

    [Fact]
    public void The_queue_should_be_bounded_in_bytes_too()
    {
        var link = new FakeLink();
        using var port = new NetPort("net0", link);
        var big = NetFrame.MaxSize - NetFrame.HeaderSize - NetFrame.EthernetHeaderSize;

        for (var i = 0; i < 200; i++)
        {
            link.Deliver(Frames.Make(Guest, Peer, i, big));
        }

        Assert.True(port.PendingBytes <= NetPort.DefaultMaxPendingBytes);
        Assert.Equal(NetPort.DefaultMaxPendingBytes / NetFrame.MaxSize, port.PendingFrames);
    }

    [Fact]
    public void Malformed_frames_should_be_dropped_and_counted_both_ways()
    {
        var link = new FakeLink();
        using var port = new NetPort("net0", link);

        port.Send(new byte[NetFrame.HeaderSize + 5]);
        port.Send(new byte[NetFrame.MaxSize + 1]);
        link.Deliver(new byte[3]);

        Assert.Empty(link.Sent);
        Assert.Equal(0, port.PendingFrames);
        Assert.Equal(3, port.Counters.Dropped(NetDropReason.Malformed));
        Assert.Equal(0, port.Counters.TxFrames);
    }

    [Fact]
    public void The_capture_should_see_the_Ethernet_frames_of_both_directions()
    {
        var link = new FakeLink();
        using var port = new NetPort("net0", link);
        var captured = new List<byte[]>();
        port.Capture = ethernet => captured.Add(ethernet.ToArray());
        var outgoing = Frames.Make(Peer, Guest, 1);
        var incoming = Frames.Make(Guest, Peer, 2);

        port.Send(outgoing);
        link.Deliver(incoming);

        Assert.Equal([outgoing[NetFrame.HeaderSize..], incoming[NetFrame.HeaderSize..]], captured);
        Assert.Equal((1, (long)outgoing.Length), (port.Counters.TxFrames, port.Counters.TxBytes));
    }

    [Fact]
    public void Offloads_should_reach_the_link_and_dispose_should_close_it()
    {
        var link = new FakeLink();
        var port = new NetPort("net0", link);

        port.SetGuestOffloads(0x7);
        link.Deliver(Frames.Make(Guest, Peer, 1));
        port.Dispose();
        port.Send(Frames.Make(Peer, Guest, 2));

        Assert.Equal(0x7UL, link.Offloads);
        Assert.True(link.Disposed);
        Assert.Equal(0, port.PendingFrames);
        Assert.Empty(link.Sent);
        Assert.Equal(1, port.Counters.Dropped(NetDropReason.Closed));
    }
}
