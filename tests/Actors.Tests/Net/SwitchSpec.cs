using ActorVmm.Actors.Net;
using ActorVmm.Devices.Net;
using Akka.TestKit.Xunit2;
using Xunit;

namespace ActorVmm.Actors.Tests.Net;

/// <summary>The in-process learning switch, seen from the NICs' ports (a fake device: Send on one, TryReceive on the others).</summary>
public class SwitchSpec : TestKit
{
    private static readonly MacAddress A = Frames.Mac(0x0a);
    private static readonly MacAddress B = Frames.Mac(0x0b);
    private static readonly MacAddress C = Frames.Mac(0x0c);

    private readonly ManualTimers _clock = new();
    private readonly SwitchRegistry _switches;

    public SwitchSpec()
    {
        _switches = new SwitchRegistry(Sys, new SwitchOptions(TimeSpan.FromSeconds(300)), _clock);
    }

    private NetPort Nic(string vm, MacAddress mac, string @switch = "lan0") => new($"net0", _switches.Attach(@switch, $"{vm}/net0", mac));

    private static List<int> Drain(NetPort port)
    {
        var received = new List<int>();
        while (port.TryReceive(out var frame))
        {
            received.Add(Frames.Sequence(frame));
        }

        return received;
    }

    private Task Until(Func<bool> condition) =>
        AwaitConditionAsync(() => Task.FromResult(condition()), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(10));

    /// <summary>Sends a broadcast from <paramref name="from"/> and waits until every other port has it: the switch handled all before.</summary>
    private async Task Fence(NetPort from, MacAddress source, params NetPort[] others)
    {
        from.Send(Frames.Make(MacAddress.Broadcast, source, -1));
        await Until(() => others.All(o => o.PendingFrames > 0 && Drain(o).Contains(-1)));
    }

    [Fact]
    public async Task Two_ports_on_one_switch_should_exchange_frames_end_to_end()
    {
        using var a = Nic("vm-a", A);
        using var b = Nic("vm-b", B);
        var frame = Frames.Make(B, A, 7, payload: 300);
        var sent = (byte[])frame.Clone();

        a.Send(frame);
        await Until(() => b.PendingFrames == 1);
        Assert.True(b.TryReceive(out var received));
        Assert.Equal(sent, received);

        b.Send(Frames.Make(A, B, 8));
        await Until(() => a.PendingFrames == 1);
        Assert.Equal([8], Drain(a));
        Assert.Equal("switch lan0", a.Link.Description);
    }

    [Fact]
    public async Task An_unknown_destination_should_flood_and_a_learned_one_should_go_to_its_port_only()
    {
        using var a = Nic("vm-a", A);
        using var b = Nic("vm-b", B);
        using var c = Nic("vm-c", C);

        a.Send(Frames.Make(B, A, 1));
        await Until(() => b.PendingFrames == 1 && c.PendingFrames == 1);
        Assert.Equal(0, a.PendingFrames);
        Drain(b);
        Drain(c);

        b.Send(Frames.Make(A, B, 2));
        a.Send(Frames.Make(B, A, 3));
        await Fence(c, C, a, b);

        Assert.Equal(0, c.PendingFrames);
        var stats = _switches.Stats("lan0")!;
        Assert.Equal((2, 1, 3, 3), (stats.Forwarded, stats.Flooded - 1, stats.MacTableSize, stats.Ports));
    }

    [Fact]
    public async Task A_broadcast_should_reach_every_other_port_and_never_come_back()
    {
        using var a = Nic("vm-a", A);
        using var b = Nic("vm-b", B);
        using var c = Nic("vm-c", C);

        a.Send(Frames.Make(MacAddress.Broadcast, A, 1));
        a.Send(Frames.Make(new MacAddress([0x01, 0x00, 0x5e, 0x00, 0x00, 0x01]), A, 2));
        await Until(() => b.PendingFrames == 2 && c.PendingFrames == 2);

        Assert.Equal(0, a.PendingFrames);
        Assert.True(b.TryReceive(out var atB));
        Assert.True(c.TryReceive(out var atC));
        Assert.NotSame(atB, atC);
    }

    [Fact]
    public async Task A_frame_with_another_vms_source_mac_should_be_dropped_and_not_steal_its_traffic()
    {
        using var a = Nic("vm-a", A);
        using var b = Nic("vm-b", B);
        using var c = Nic("vm-c", C);
        await Fence(b, B, a, c);

        a.Send(Frames.Make(MacAddress.Broadcast, B, 1));         // a pretends to be b
        a.Send(Frames.Make(MacAddress.Broadcast, Frames.Mac(0x77), 2));  // a made-up MAC
        c.Send(Frames.Make(B, C, 3));
        await Until(() => b.PendingFrames == 1);   // the switch handles frames in order: 1 and 2 came first

        Assert.Equal(0, a.PendingFrames);
        Assert.Equal([3], Drain(b));
        var stats = _switches.Stats("lan0")!;
        Assert.Equal((2, 2), (stats.Dropped, stats.MacTableSize));   // b and c; neither spoofed MAC
    }

    [Fact]
    public async Task A_frame_for_a_MAC_learned_on_its_own_port_should_not_go_back_out()
    {
        using var a = Nic("vm-a", A);
        using var b = Nic("vm-b", B);

        a.Send(Frames.Make(B, A, 1));
        await Until(() => b.PendingFrames == 1);
        a.Send(Frames.Make(A, A, 2));
        await Fence(b, B, a);

        Assert.Equal(0, a.PendingFrames);
        Assert.Equal([1], Drain(b));
        Assert.Equal(1, _switches.Stats("lan0")!.Filtered);
    }

    [Fact]
    public async Task A_learned_MAC_should_age_out_and_its_frames_flood_again()
    {
        using var a = Nic("vm-a", A);
        using var b = Nic("vm-b", B);
        using var c = Nic("vm-c", C);
        a.Send(Frames.Make(B, A, 1));
        await Until(() => b.PendingFrames == 1 && c.PendingFrames == 1);
        Drain(b);
        Drain(c);

        _clock.Advance(TimeSpan.FromSeconds(301));
        c.Send(Frames.Make(A, C, 2));

        // A aged out: C's frame floods, B sees it too.
        await Until(() => a.PendingFrames == 1 && b.PendingFrames == 1);
        Assert.Equal([2], Drain(b));
    }

    [Fact]
    public void A_MAC_already_on_the_switch_should_be_refused_in_one_line()
    {
        using var a = _switches.Attach("lan0", "vm-a/net0", A);

        var e = Assert.Throws<NetLinkException>(() => _switches.Attach("lan0", "vm-b/net0", A));

        Assert.Equal("mac 52:54:00:00:00:0a is already on switch lan0 (vm-a/net0)", e.Message);
        using var elsewhere = _switches.Attach("lan1", "vm-b/net0", A);
        a.Dispose();
        using var again = _switches.Attach("lan0", "vm-b/net0", A);
    }

    [Theory]
    [InlineData("lan 0")]
    [InlineData("")]
    [InlineData("a-name-that-is-far-too-long-for-a-switch")]
    [InlineData("lan/0")]
    public void A_bad_switch_name_should_be_refused_in_one_line(string name)
    {
        var e = Assert.Throws<NetLinkException>(() => _switches.Attach(name, "vm-a/net0", A));

        Assert.Equal($"'{name}' is not a switch name (1 to 32 letters, digits, '-' or '_', e.g. lan0)", e.Message);
        Assert.Empty(_switches.Stats());
    }

    [Fact]
    public void A_multicast_MAC_should_be_refused()
    {
        var e = Assert.Throws<NetLinkException>(() => _switches.Attach("lan0", "vm-a/net0", MacAddress.Broadcast));

        Assert.Contains("is not a unicast address", e.Message);
        Assert.Empty(_switches.Stats());
    }

    [Fact]
    public void The_last_detach_should_stop_the_switch()
    {
        var a = _switches.Attach("lan0", "vm-a/net0", A);
        var b = _switches.Attach("lan0", "vm-b/net0", B);
        var actor = _switches.ActorOf("lan0")!;
        Watch(actor);

        a.Dispose();
        Assert.NotNull(_switches.Stats("lan0"));
        b.Dispose();

        ExpectTerminated(actor);
        Assert.Null(_switches.Stats("lan0"));
        using var c = _switches.Attach("lan0", "vm-c/net0", C);
        Assert.NotEqual(actor, _switches.ActorOf("lan0"));
    }

    [Fact]
    public async Task A_detached_port_should_get_nothing_more_and_its_MACs_should_be_forgotten()
    {
        using var a = Nic("vm-a", A);
        var b = Nic("vm-b", B);
        using var c = Nic("vm-c", C);
        b.Send(Frames.Make(MacAddress.Broadcast, B, 1));
        await Until(() => a.PendingFrames == 1 && c.PendingFrames == 1);

        b.Dispose();
        a.Send(Frames.Make(B, A, 2));
        await Until(() => c.PendingFrames == 2);

        Assert.Equal(0, b.PendingFrames);
        Assert.Equal(1, _switches.Stats("lan0")!.MacTableSize);
    }

    [Fact]
    public async Task A_port_whose_guest_never_drains_should_stay_bounded()
    {
        using var a = Nic("vm-a", A);
        using var b = Nic("vm-b", B);

        for (var i = 0; i < 2000; i++)
        {
            a.Send(Frames.Make(B, A, i));
        }

        await Until(() => b.Counters.RxFrames + b.Counters.Dropped(NetDropReason.RxQueueFull) + a.Link.Dropped == 2000);
        Assert.Equal(NetPort.DefaultMaxPendingFrames, b.PendingFrames);
    }

    [Fact]
    public async Task The_uplink_should_get_flooded_frames_and_bring_frames_in()
    {
        using var a = Nic("vm-a", A);
        var uplink = new FakeLink();
        var attached = _switches.AttachUplink("lan0", uplink);

        a.Send(Frames.Make(MacAddress.Broadcast, A, 1));
        await Until(() => uplink.Count == 1);
        uplink.Deliver(Frames.Make(A, B, 2));
        await Until(() => a.PendingFrames == 1);

        Assert.Equal([2], Drain(a));
        var e = Assert.Throws<NetLinkException>(() => _switches.AttachUplink("lan0", new FakeLink()));
        Assert.Equal("switch lan0 already has an uplink (uplink fake)", e.Message);
        attached.Dispose();
        Assert.True(uplink.Disposed);
        await Until(() => _switches.Stats("lan0")!.Ports == 1);
    }
}
