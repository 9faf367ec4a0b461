using ActorVmm.Actors.Faults;
using ActorVmm.Actors.Net;
using ActorVmm.Devices.Net;
using Xunit;

namespace ActorVmm.Actors.Tests.Net;

/// <summary>A NIC's network faults, on the frames its port sends (partition: both ways), timed on a manual clock.</summary>
public class NetFaultSpec
{
    private static readonly MacAddress Guest = Frames.Mac(1);
    private static readonly MacAddress Peer = Frames.Mac(2);

    private readonly ManualTimers _clock = new();
    private readonly FakeLink _link;
    private readonly NetPort _port;
    private readonly FaultInjector _injector;

    public NetFaultSpec()
    {
        _link = new FakeLink(_clock);
        _port = new NetPort("net0", _link);
        _injector = new FaultInjector([], time: _clock);
        _injector.AttachNet("net0", _port);
        _injector.Validate(["net0", "serial0"]);
    }

    private void SendFrames(int count, int payload = 46)
    {
        for (var i = 1; i <= count; i++)
        {
            _port.Send(Frames.Make(Peer, Guest, i, payload));
        }
    }

    private List<int> SentSequences() => _link.Sent.Select(Frames.Sequence).ToList();

    private static List<int> DeliveredWith(string spec, int frames)
    {
        var link = new FakeLink();
        using var port = new NetPort("net0", link);
        var injector = new FaultInjector([FaultPlan.Parse(spec)]);
        injector.AttachNet("net0", port);
        for (var i = 1; i <= frames; i++)
        {
            port.Send(Frames.Make(Peer, Guest, i));
        }

        return link.Sent.Select(Frames.Sequence).ToList();
    }

    [Fact]
    public void A_port_without_plans_should_send_every_frame_as_it_is()
    {
        SendFrames(10);

        Assert.Equal(Enumerable.Range(1, 10), SentSequences());
        Assert.Equal(10, _port.Counters.TxFrames);
        Assert.Equal(0, _port.Counters.TotalDropped);
    }

    [Fact]
    public void Drop_with_p_should_lose_frames_within_a_binomial_bound_and_the_same_frames_for_the_same_seed()
    {
        const int n = 10_000;
        const double p = 0.3;

        var first = DeliveredWith("net0:drop,p=0.3,seed=12345", n);
        var again = DeliveredWith("net0:drop,p=0.3,seed=12345", n);
        var other = DeliveredWith("net0:drop,p=0.3,seed=54321", n);

        var lost = n - first.Count;
        var sigma = Math.Sqrt(n * p * (1 - p));
        Assert.InRange(lost, (n * p) - (4 * sigma), (n * p) + (4 * sigma));
        Assert.Equal(first, again);
        Assert.NotEqual(first, other);
    }

    [Fact]
    public void Drop_every_3_should_drop_exactly_every_third_frame_and_count_it()
    {
        var observed = new List<(string, FaultKind)>();
        _injector.FaultObserved = (device, kind) => observed.Add((device, kind));
        _injector.Add(FaultPlan.Parse("net0:drop,every=3"));

        SendFrames(30);

        Assert.Equal(Enumerable.Range(1, 30).Where(i => i % 3 != 0), SentSequences());
        Assert.Equal(10, _injector.Counters.Injected("net0", FaultKind.Drop));
        Assert.Equal(10, _port.Counters.Dropped(NetDropReason.Fault));
        Assert.Equal(Enumerable.Repeat(("net0", FaultKind.Drop), 10), observed);
        Assert.Equal(10, _injector.Active.Single().Fired);
    }

    [Fact]
    public void Duplicate_should_send_each_frame_twice_as_separate_equal_copies()
    {
        _injector.Add(FaultPlan.Parse("net0:duplicate"));

        SendFrames(5);

        var sent = _link.Sent;
        Assert.Equal([1, 1, 2, 2, 3, 3, 4, 4, 5, 5], sent.Select(Frames.Sequence));
        Assert.Equal(sent[0], sent[1]);
        Assert.NotSame(sent[0], sent[1]);
        Assert.Equal(5, _injector.Counters.Injected("net0", FaultKind.Duplicate));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(64)]
    public void Corrupt_should_flip_exactly_N_bits_of_the_Ethernet_frame_and_none_of_the_virtio_header(int bits)
    {
        _injector.Add(FaultPlan.Parse($"net0:corrupt,bits={bits},p=1,seed=9"));
        var originals = Enumerable.Range(1, 50).Select(i => Frames.Make(Peer, Guest, i, payload: 100)).ToList();

        foreach (var frame in originals)
        {
            _port.Send((byte[])frame.Clone());
        }

        var sent = _link.Sent;
        Assert.Equal(originals.Count, sent.Count);
        for (var i = 0; i < sent.Count; i++)
        {
            Assert.Equal(originals[i].AsSpan(0, NetFrame.HeaderSize).ToArray(), sent[i].AsSpan(0, NetFrame.HeaderSize).ToArray());
            var flipped = originals[i].Zip(sent[i], (a, b) => System.Numerics.BitOperations.PopCount((uint)(a ^ b))).Sum();
            Assert.Equal(bits, flipped);
        }
    }

    [Fact]
    public void Corrupt_should_pick_the_same_bits_for_the_same_seed()
    {
        static byte[] Corrupted(string spec)
        {
            var link = new FakeLink();
            using var port = new NetPort("net0", link);
            new FaultInjector([FaultPlan.Parse(spec)]).AttachNet("net0", port);
            port.Send(Frames.Make(Peer, Guest, 1, payload: 200));
            return link.Sent.Single();
        }

        Assert.Equal(Corrupted("net0:corrupt,bits=5,p=1,seed=3"), Corrupted("net0:corrupt,bits=5,p=1,seed=3"));
        Assert.NotEqual(Corrupted("net0:corrupt,bits=5,p=1,seed=3"), Corrupted("net0:corrupt,bits=5,p=1,seed=4"));
    }

    [Fact]
    public void Reorder_should_send_a_held_frame_right_after_the_next_one()
    {
        _injector.Add(FaultPlan.Parse("net0:reorder"));

        SendFrames(6);

        Assert.Equal([2, 1, 4, 3, 6, 5], SentSequences());
    }

    [Fact]
    public void Reorder_should_let_a_held_frame_go_when_no_next_frame_comes()
    {
        _injector.Add(FaultPlan.Parse("net0:reorder"));

        SendFrames(1);
        Assert.Empty(_link.Sent);

        _clock.Advance(NetFrameFaults.ReorderHoldLimit);
        Assert.Equal([1], SentSequences());
    }

    [Fact]
    public void Partition_should_cut_both_directions_until_removed_and_traffic_should_resume_after()
    {
        var id = _injector.Add(FaultPlan.Parse("net0:partition"));

        SendFrames(3);
        _link.Deliver(Frames.Make(Guest, Peer, 100));
        _link.Deliver(Frames.Make(Guest, Peer, 101));

        Assert.Empty(_link.Sent);
        Assert.Equal(0, _port.PendingFrames);
        Assert.Equal(5, _port.Counters.Dropped(NetDropReason.Partition));
        Assert.Equal(1, _injector.Counters.Injected("net0", FaultKind.Partition));

        Assert.True(_injector.Remove(id));
        SendFrames(2);
        _link.Deliver(Frames.Make(Guest, Peer, 102));

        Assert.Equal([1, 2], SentSequences());
        Assert.True(_port.TryReceive(out var received));
        Assert.Equal(102, Frames.Sequence(received));
    }

    [Fact]
    public void Partition_after_a_trigger_should_begin_when_it_fires_and_hold_while_armed()
    {
        _injector.Add(FaultPlan.Parse("net0:partition,every=3"));

        SendFrames(10);

        Assert.Equal([1, 2], SentSequences());
    }

    [Fact]
    public void Partition_should_also_stop_frames_a_delay_still_held()
    {
        _injector.Add(FaultPlan.Parse("net0:delay,delay=10ms"));
        SendFrames(2);
        _injector.Add(FaultPlan.Parse("net0:partition,after=0s"));
        _link.Deliver(Frames.Make(Guest, Peer, 100));

        _clock.Advance(TimeSpan.FromMilliseconds(20));

        Assert.Empty(_link.Sent);
        Assert.Equal(3, _port.Counters.Dropped(NetDropReason.Partition));
    }

    [Fact]
    public void Delay_should_deliver_no_frame_before_its_delay()
    {
        _injector.Add(FaultPlan.Parse("net0:delay,delay=20ms,jitter=5ms,p=1,seed=4"));
        var start = _clock.GetTimestamp();

        SendFrames(100);
        _clock.Advance(TimeSpan.FromMilliseconds(19));
        Assert.Empty(_link.Sent);
        for (var i = 0; i < 10; i++)
        {
            _clock.Advance(TimeSpan.FromMilliseconds(1));
        }

        var sent = _link.SentAt;
        Assert.Equal(100, sent.Count);
        Assert.All(sent, s => Assert.True(s.At - start >= TimeSpan.FromMilliseconds(20).Ticks));
        Assert.True(sent.Select(s => s.At).Distinct().Count() > 1, "jitter spreads the frames");
        Assert.Equal(100, _injector.Counters.Injected("net0", FaultKind.Delay));
    }

    [Fact]
    public async Task Delay_on_the_system_clock_should_hold_a_frame_at_least_its_delay()
    {
        var link = new FakeLink();
        using var port = new NetPort("net0", link);
        new FaultInjector([FaultPlan.Parse("net0:delay,delay=30ms")]).AttachNet("net0", port);
        var sentAt = TimeProvider.System.GetTimestamp();

        port.Send(Frames.Make(Peer, Guest, 1));

        for (var i = 0; i < 1000 && link.Count == 0; i++)
        {
            await Task.Delay(10);
        }

        Assert.True(TimeProvider.System.GetElapsedTime(sentAt, link.SentAt.Single().At) >= TimeSpan.FromMilliseconds(30));
    }

    [Fact]
    public void A_full_delay_line_should_drop_and_count_instead_of_growing()
    {
        _injector.Add(FaultPlan.Parse("net0:delay,delay=1s"));

        SendFrames(NetFrameFaults.MaxHeldFrames + 10);

        Assert.Equal(10, _port.Counters.Dropped(NetDropReason.DelayLineFull));
        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(NetFrameFaults.MaxHeldFrames, _link.Count);
    }

    [Fact]
    public void Rate_should_never_deliver_more_than_rate_times_window_plus_burst()
    {
        var plan = FaultPlan.Parse("net0:rate,rate=1m");
        _injector.Add(plan);
        const int payload = 986; // 1000-byte Ethernet frames
        var start = _clock.GetTimestamp();

        SendFrames(100, payload);
        var window = TimeSpan.Zero;
        while (window < TimeSpan.FromSeconds(1))
        {
            var bytes = _link.Sent.Sum(f => (long)(f.Length - NetFrame.HeaderSize));
            Assert.True(bytes <= (plan.Rate / 8 * window.TotalSeconds) + plan.RateBurstBytes, $"{bytes} bytes after {window.TotalMilliseconds} ms");
            _clock.Advance(TimeSpan.FromMilliseconds(1));
            window = _clock.GetElapsedTime(start);
        }

        Assert.Equal(Enumerable.Range(1, 100), SentSequences());
        Assert.Equal(0, _port.Counters.TotalDropped);
    }

    [Fact]
    public void Rate_should_drop_what_its_full_backlog_cannot_hold()
    {
        var plan = FaultPlan.Parse("net0:rate,rate=1m");
        _injector.Add(plan);

        SendFrames(1000, payload: 986);

        var dropped = _port.Counters.Dropped(NetDropReason.RateBacklogFull);
        Assert.True(dropped > 0);
        _clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(1000, _link.Count + dropped);
        Assert.True(_link.Count * 1012L <= plan.RateBacklogBytes + plan.RateBurstBytes + 1012);
    }

    [Fact]
    public void Removing_a_rate_should_send_its_backlog_at_once()
    {
        var id = _injector.Add(FaultPlan.Parse("net0:rate,rate=1m"));
        SendFrames(20, payload: 986);
        Assert.True(_link.Count < 20);

        _injector.Remove(id);
        SendFrames(1);

        Assert.Equal(Enumerable.Range(1, 20).Append(1), SentSequences());
    }

    [Fact]
    public void A_crash_on_a_NIC_should_stay_a_register_fault_and_frames_should_pass()
    {
        _injector.Add(FaultPlan.Parse("net0:crash,every=2"));

        SendFrames(4);

        Assert.Equal(4, _link.Count);
        Assert.Single(_injector.FaultsOf("net0").Bus);
        Assert.Empty(_injector.FaultsOf("net0").Frames);
    }

    [Theory]
    [InlineData("serial0:partition", "partition applies to a NIC's frames; serial0 is not a NIC")]
    [InlineData("serial0:rate,rate=1m", "rate applies to a NIC's frames; serial0 is not a NIC")]
    [InlineData("serial0:corrupt,bits=2", "bits= applies to a NIC's frames; serial0 is not a NIC")]
    [InlineData("serial0:delay,delay=1ms,jitter=1ms", "jitter= applies to a NIC's frames; serial0 is not a NIC")]
    [InlineData("net0:io-error", "io-error needs a virtio-blk disk; net0 is not one")]
    [InlineData("net0:drop,offset=4", "net0 is a NIC, its faults are per frame; offset= does not apply")]
    [InlineData("net0:corrupt,mask=0x4", "mask= does not apply")]
    public void A_plan_that_does_not_fit_the_device_should_be_refused_in_one_line(string spec, string expected)
    {
        var e = Assert.Throws<ActorVmm.Actors.Settings.SettingsException>(() => _injector.Add(FaultPlan.Parse(spec)));

        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Empty(_injector.Active);
    }

    [Fact]
    public void Validate_should_refuse_a_NIC_kind_given_at_start_for_another_device()
    {
        var injector = new FaultInjector([FaultPlan.Parse("disk0:duplicate")]);

        var e = Assert.Throws<ActorVmm.Actors.Settings.SettingsException>(() => injector.Validate(["disk0"]));

        Assert.Contains("duplicate applies to a NIC's frames; disk0 is not a NIC", e.Message);
    }
}
