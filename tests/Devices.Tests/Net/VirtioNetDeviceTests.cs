using System.Buffers.Binary;
using ActorVmm.Devices.Net;
using ActorVmm.Devices.Virtio;
using ActorVmm.Kvm.Memory;
using ActorVmm.TestSupport.Fakes;
using ActorVmm.TestSupport.Virtio;
using Xunit;
using static ActorVmm.TestSupport.Virtio.MockVirtqueue;

namespace ActorVmm.Devices.Tests.Net;

public sealed class VirtioNetDeviceTests : IDisposable
{
    /// <summary>Everything offered: offloads both ways, merged buffers, EVENT_IDX.</summary>
    private const ulong All = VirtioNetFeatures.Offered | VirtioFeatures.TransportDefault;

    /// <summary>No offloads, no merged buffers: what a minimal driver accepts.</summary>
    private const ulong Plain = VirtioFeatures.Version1 | VirtioNetFeatures.Mac | VirtioNetFeatures.Mtu | VirtioNetFeatures.Status;

    private const int QueueSize = 64;
    private const uint GoodBuffer = 1526;

    private static readonly MacAddress _mac = new([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);

    private readonly TestMemory _ram = new();
    private readonly MockVirtqueue _rx;
    private readonly MockVirtqueue _tx;
    private readonly RecordingInterruptLine _line = new();
    private readonly FakeNetPort _port = new();
    private readonly VirtioNetDevice _net;
    private readonly VirtioPciDevice _device;
    private readonly VirtioPciDriver _driver;

    public VirtioNetDeviceTests()
    {
        _rx = new MockVirtqueue(_ram.Memory, TestMemory.RingBase(0), QueueSize);
        _tx = new MockVirtqueue(_ram.Memory, TestMemory.RingBase(1), QueueSize);
        _net = new VirtioNetDevice(_port, _mac, 1500, QueueSize);
        _device = new VirtioPciDevice("net0", _net, _ram.Memory, _line, 0xE000_0000, 10);
        _driver = new VirtioPciDriver(_device);
    }

    public void Dispose() => _ram.Dispose();

    [Fact]
    public void Net_should_offer_the_Firecracker_feature_set()
    {
        var offered = _driver.ReadDeviceFeatures();

        Assert.Equal(0b1_1001_1001_1010_1011UL | VirtioFeatures.TransportDefault, offered);
        Assert.Equal(VirtioDeviceType.Net, _net.DeviceType);
        Assert.Equal(2, _net.QueueCount);
    }

    [Fact]
    public void Net_should_show_mac_link_status_queue_pairs_and_mtu_in_config_space()
    {
        var config = new byte[12];
        for (var i = 0; i < config.Length; i++)
        {
            config[i] = _driver.Read8(VirtioPciLayout.DeviceConfigOffset + (ulong)i);
        }

        _driver.Write8(VirtioPciLayout.DeviceConfigOffset, 0xAA);

        Assert.Equal(_mac.ToArray(), config[..6]);
        Assert.Equal(VirtioNetDevice.StatusLinkUp, BinaryPrimitives.ReadUInt16LittleEndian(config.AsSpan(6)));
        Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(config.AsSpan(8)));
        Assert.Equal(1500, BinaryPrimitives.ReadUInt16LittleEndian(config.AsSpan(10)));
        Assert.Equal(0x52, _driver.Read8(VirtioPciLayout.DeviceConfigOffset));
        Assert.Equal(1, _net.IgnoredConfigWrites);
    }

    [Fact]
    public void Net_should_tell_the_port_the_guest_offloads_on_activation_and_stop_asking_after_reset()
    {
        Start(All);
        var afterActivation = _port.GuestOffloads;
        var hooked = _port.FrameArrived is not null;

        _driver.Write8(0x14, 0);

        Assert.Equal(All, afterActivation);
        Assert.True(hooked);
        Assert.Equal(0UL, _port.GuestOffloads);
        Assert.Null(_port.FrameArrived);
        Assert.Equal(0UL, _net.AckedFeatures);
    }

    [Fact]
    public void Net_should_transmit_a_frame_with_its_header()
    {
        Start(All);
        var frame = TestFrames.TcpV4(500);
        VirtioNetHeader.SetNumBuffers(frame, 7);
        var header = _ram.AllocateFilled(frame[..NetFrame.HeaderSize]);
        var body = _ram.AllocateFilled(frame[NetFrame.HeaderSize..]);
        _tx.AddChain(Buf.Readable(header, NetFrame.HeaderSize), Buf.Readable(body, (uint)(frame.Length - NetFrame.HeaderSize)));

        _driver.Notify(VirtioNetDevice.TransmitQueue);

        var sent = Assert.Single(_port.Sent);
        VirtioNetHeader.SetNumBuffers(frame, 0);
        Assert.Equal(frame, sent);
        Assert.Equal(1, _tx.UsedIdx);
        Assert.Equal(0u, _tx.ReadUsed(0).Length);
        Assert.Equal(1, _net.TxFrames);
        Assert.Equal(frame.Length - NetFrame.HeaderSize, _net.TxBytes);
        Assert.True(_line.Level);
    }

    [Fact]
    public void Net_should_transmit_a_TSO_frame_when_HOST_TSO4_was_negotiated()
    {
        Start(All);
        var frame = TestFrames.TcpV4(60_000, mss: 1448);

        Transmit(frame);

        Assert.Equal(frame, Assert.Single(_port.Sent));
        Assert.Equal(0, _net.TxMalformed);
    }

    [Theory]
    [InlineData("header only")]
    [InlineData("no header")]
    [InlineData("larger than 64 KiB")]
    [InlineData("larger than the MTU without TSO")]
    [InlineData("gso_type not negotiated")]
    [InlineData("unknown gso_type")]
    [InlineData("GSO without NEEDS_CSUM")]
    [InlineData("gso_size under TCP's minimum MSS")]
    [InlineData("csum_start beyond the frame")]
    [InlineData("NEEDS_CSUM without CSUM")]
    public void Net_should_drop_and_count_a_malformed_transmit_chain_and_still_complete_it(string kind)
    {
        Start(kind is "gso_type not negotiated" or "NEEDS_CSUM without CSUM" ? Plain : All);
        var frame = kind switch
        {
            "header only" => new byte[NetFrame.HeaderSize],
            "no header" => new byte[5],
            "larger than 64 KiB" => TestFrames.TcpV4(65_600, mss: 1448),
            "larger than the MTU without TSO" => TestFrames.Raw(1519),
            "gso_type not negotiated" => TestFrames.TcpV4(3000, mss: 1448),
            "unknown gso_type" => TestFrames.Raw(100, VirtioNetHeader.FlagNeedsCsum, VirtioNetHeader.GsoUdp, 50, 34, 6),
            "GSO without NEEDS_CSUM" => TestFrames.Raw(3000, 0, VirtioNetHeader.GsoTcpV4, 1448),
            "gso_size under TCP's minimum MSS" => TestFrames.TcpV4(60_000, mss: 87),
            "csum_start beyond the frame" => TestFrames.Raw(100, VirtioNetHeader.FlagNeedsCsum, csumStart: 2000, csumOffset: 16),
            _ => TestFrames.Raw(100, VirtioNetHeader.FlagNeedsCsum, csumStart: 34, csumOffset: 16),
        };

        Transmit(frame);

        Assert.Empty(_port.Sent);
        Assert.Equal(1, _net.TxMalformed);
        Assert.Equal(1, _tx.UsedIdx);
        Assert.Equal(0u, _tx.ReadUsed(0).Length);
        Assert.Equal(0, _net.TxFrames);
    }

    [Fact]
    public void Net_should_take_a_VLAN_tagged_full_size_frame()
    {
        Start(Plain);

        Transmit(TestFrames.Raw(1518));

        Assert.Single(_port.Sent);
    }

    [Fact]
    public void Net_should_drop_a_transmit_chain_with_device_writable_buffers()
    {
        Start(All);
        var frame = _ram.AllocateFilled(TestFrames.Raw(100));
        _tx.AddChain(Buf.Readable(frame, 112), Buf.Writable(_ram.Allocate(16), 16));

        _driver.Notify(VirtioNetDevice.TransmitQueue);

        Assert.Empty(_port.Sent);
        Assert.Equal(1, _net.TxMalformed);
        Assert.Equal(1, _tx.UsedIdx);
    }

    [Fact]
    public void Net_should_receive_a_frame_into_one_buffer_with_num_buffers_1()
    {
        Start(Plain);
        var buffer = PostReceive(GoodBuffer);
        var frame = TestFrames.Raw(600);

        _port.Deliver((byte[])frame.Clone());

        Assert.Equal(1, _rx.UsedIdx);
        Assert.Equal((uint)frame.Length, _rx.ReadUsed(0).Length);
        VirtioNetHeader.SetNumBuffers(frame, 1);
        Assert.Equal(frame, _ram.ReadBytes(buffer, frame.Length));
        Assert.Equal(1, _net.RxFrames);
        Assert.Equal(600, _net.RxBytes);
        Assert.True(_line.Level);
    }

    [Fact]
    public void Net_should_spread_a_large_frame_over_merged_buffers_and_set_num_buffers()
    {
        Start(All);
        var buffers = Enumerable.Range(0, 6).Select(_ => PostReceive(GoodBuffer)).ToArray();
        var frame = TestFrames.TcpV4(5000, mss: 1448);

        _port.Deliver((byte[])frame.Clone());

        var needed = (frame.Length + (int)GoodBuffer - 1) / (int)GoodBuffer;
        Assert.Equal(4, needed);
        Assert.Equal(needed, _rx.UsedIdx);
        var received = new List<byte>();
        for (var i = 0; i < needed; i++)
        {
            var (_, length) = _rx.ReadUsed(i);
            received.AddRange(_ram.ReadBytes(buffers[i], (int)length));
        }

        Assert.Equal(needed, VirtioNetHeader.NumBuffers(received.ToArray()));
        VirtioNetHeader.SetNumBuffers(frame, (ushort)needed);
        Assert.Equal(frame, received.ToArray());
        Assert.Equal(1, _net.RxFrames);
    }

    [Fact]
    public void Net_should_ask_its_worker_for_a_receive_pass_when_a_frame_arrives()
    {
        var kicks = new List<int>();
        _device.QueueKickHandler = kicks.Add;
        Start(All);
        PostReceive(GoodBuffer);
        kicks.Clear();

        _port.Deliver(TestFrames.Raw(100));
        var usedBeforePass = _rx.UsedIdx;
        QueueWorker.Pass(_device, kicks.Single());

        Assert.Equal(VirtioNetDevice.ReceiveQueue, kicks.Single());
        Assert.Equal(0, usedBeforePass);
        Assert.Equal(1, _rx.UsedIdx);
    }

    [Fact]
    public void Net_should_ask_for_another_pass_when_its_budget_ends_with_frames_left()
    {
        var kicks = new List<int>();
        _device.QueueKickHandler = kicks.Add;
        Start(All);
        for (var i = 0; i < 100; i++)
        {
            _port.Deliver(TestFrames.Raw(60));
        }

        for (var i = 0; i < QueueSize; i++)
        {
            PostReceive(GoodBuffer);
        }

        kicks.Clear();
        QueueWorker.Pass(_device, VirtioNetDevice.ReceiveQueue);

        Assert.Equal(QueueSize, _rx.UsedIdx);
        Assert.Contains(VirtioNetDevice.ReceiveQueue, kicks);
        Assert.Equal(100 - QueueSize, _port.PendingFrames);
    }

    [Fact]
    public void Net_should_keep_a_frame_until_the_guest_adds_buffers()
    {
        Start(Plain);
        var frame = TestFrames.Raw(100);

        _port.Deliver(frame);
        var heldBefore = _net.HeldFrames;
        var buffer = PostReceive(GoodBuffer);
        _driver.Notify(VirtioNetDevice.ReceiveQueue);

        Assert.Equal(1, heldBefore);
        Assert.Equal(0, _port.PendingFrames);
        Assert.Equal(1, _rx.UsedIdx);
        Assert.Equal(0, VirtioNetHeader.NumBuffers(frame));
        var expected = (byte[])frame.Clone();
        VirtioNetHeader.SetNumBuffers(expected, 1);
        Assert.Equal(expected, _ram.ReadBytes(buffer, frame.Length));
        Assert.Equal(0, _net.HeldFrames);
    }

    [Fact]
    public void Net_should_put_back_merged_buffers_that_are_too_few_and_ask_to_be_notified_for_more()
    {
        Start(All);
        PostReceive(GoodBuffer);
        var frame = TestFrames.TcpV4(4000, mss: 1448);

        _port.Deliver(frame);
        var usedWhileShort = _rx.UsedIdx;
        var availEventWhileShort = _rx.AvailEvent;
        PostReceive(GoodBuffer);
        PostReceive(GoodBuffer);
        _driver.Notify(VirtioNetDevice.ReceiveQueue);

        Assert.Equal(0, usedWhileShort);
        Assert.Equal(1, availEventWhileShort);
        Assert.Equal(3, _rx.UsedIdx);
        Assert.Equal(1, _net.RxFrames);
        Assert.Equal(0, _net.HeldFrames);
    }

    [Fact]
    public void Net_should_complete_merged_buffers_empty_rather_than_rewind_over_a_malformed_chain()
    {
        Start(All);
        PostReceive(GoodBuffer);
        _rx.AddChain(Buf.Writable(_ram.Allocate(16), 0));
        var frame = TestFrames.TcpV4(4000, mss: 1448);

        _port.Deliver(frame);
        var usedWhileShort = _rx.UsedIdx;
        var heldWhileShort = _net.HeldFrames;
        var buffers = Enumerable.Range(0, 3).Select(_ => PostReceive(GoodBuffer)).ToArray();

        _driver.Notify(VirtioNetDevice.ReceiveQueue);

        // The malformed chain and the good one popped before it come back empty, each once; the frame waits.
        Assert.Equal(2, usedWhileShort);
        Assert.Equal(0u, _rx.ReadUsed(0).Length);
        Assert.Equal(0u, _rx.ReadUsed(1).Length);
        Assert.Equal(5, _rx.UsedIdx);
        Assert.Equal(5, Enumerable.Range(0, 5).Select(i => _rx.ReadUsed(i).Id).Distinct().Count());
        Assert.Equal(1, _net.RxFrames);
        Assert.Equal(1, heldWhileShort);
        Assert.Equal(3, VirtioNetHeader.NumBuffers(_ram.ReadBytes(buffers[0], NetFrame.HeaderSize)));
    }

    [Fact]
    public void Net_should_drop_a_frame_the_whole_merged_ring_cannot_hold_and_go_on()
    {
        Start(All);
        for (var i = 0; i < QueueSize; i++)
        {
            PostReceive(26);
        }

        _port.Deliver(TestFrames.TcpV4(4000, mss: 1448));
        var usedAfterDrop = _rx.UsedIdx;
        _port.Deliver(TestFrames.Raw(14));

        Assert.Equal(0, usedAfterDrop);
        Assert.Equal(1, _net.RxTooLarge);
        Assert.Equal(1, _rx.UsedIdx);
        Assert.Equal(26u, _rx.ReadUsed(0).Length);
    }

    [Fact]
    public void Net_should_drop_a_frame_larger_than_its_single_buffer_and_keep_the_buffer_for_the_next()
    {
        Start(Plain);
        var buffer = PostReceive(200);

        _port.Deliver(TestFrames.Raw(1000));
        var usedAfterDrop = _rx.UsedIdx;
        var small = TestFrames.Raw(100);
        _port.Deliver((byte[])small.Clone());

        Assert.Equal(0, usedAfterDrop);
        Assert.Equal(1, _net.RxTooLarge);
        Assert.Equal(1, _rx.UsedIdx);
        Assert.Equal(small[NetFrame.HeaderSize..], _ram.ReadBytes(buffer, small.Length)[NetFrame.HeaderSize..]);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Net_should_complete_read_only_or_tiny_receive_chains_empty_and_deliver_into_the_next(bool merged)
    {
        Start(merged ? All : Plain);
        _rx.AddChain(Buf.Readable(_ram.Allocate(GoodBuffer), GoodBuffer));
        PostReceive(20);
        var good = PostReceive(GoodBuffer);
        var frame = TestFrames.Raw(300);

        _port.Deliver((byte[])frame.Clone());

        Assert.Equal(3, _rx.UsedIdx);
        Assert.Equal(0u, _rx.ReadUsed(0).Length);
        Assert.Equal(0u, _rx.ReadUsed(1).Length);
        Assert.Equal((uint)frame.Length, _rx.ReadUsed(2).Length);
        Assert.Equal(frame[NetFrame.HeaderSize..], _ram.ReadBytes(good, frame.Length)[NetFrame.HeaderSize..]);
        Assert.Equal(2, _net.RxBadBuffers);
    }

    [Fact]
    public void Net_should_finish_offloads_the_driver_declined_before_delivery()
    {
        Start(Plain);
        var buffers = Enumerable.Range(0, 8).Select(_ => PostReceive(GoodBuffer)).ToArray();

        _port.Deliver(TestFrames.TcpV4(300));
        _port.Deliver(TestFrames.TcpV4(4000, mss: 1448));

        Assert.Equal(4, _rx.UsedIdx);
        for (var i = 0; i < 4; i++)
        {
            var frame = _ram.ReadBytes(buffers[i], (int)_rx.ReadUsed(i).Length);
            Assert.True(TestFrames.TcpV4Verifies(frame), $"frame {i} does not verify");
            Assert.Equal(0, VirtioNetHeader.Flags(frame));
            Assert.Equal(VirtioNetHeader.GsoNone, VirtioNetHeader.GsoType(frame));
        }

        Assert.Equal(4, _net.RxFrames);
    }

    [Fact]
    public void Net_should_drop_and_count_a_port_frame_it_cannot_finish_for_the_driver()
    {
        Start(Plain);
        PostReceive(GoodBuffer);

        _port.Deliver(TestFrames.Raw(3000, VirtioNetHeader.FlagNeedsCsum, VirtioNetHeader.GsoUdp, 1000, 34, 6));
        _port.Deliver(new byte[NetFrame.HeaderSize + 3]);

        Assert.Equal(2, _net.RxUnusable);
        Assert.Equal(0, _rx.UsedIdx);
        Assert.Equal(0, _net.HeldFrames);
    }

    [Fact]
    public void Net_should_keep_held_segments_across_a_save_and_restore()
    {
        Start(Plain);
        PostReceive(GoodBuffer);
        PostReceive(GoodBuffer);
        _port.Deliver(TestFrames.TcpV4(10_000, mss: 1448));
        var heldBefore = _net.HeldFrames;

        var saved = _device.SaveState();
        var net = new VirtioNetDevice(_port, _mac, 1500, QueueSize);
        var restarted = new VirtioPciDevice("net0", net, _ram.Memory, new RecordingInterruptLine(), 0xE000_0000, 10);
        restarted.RestoreState(saved);
        var buffers = Enumerable.Range(0, 5).Select(_ => PostReceive(GoodBuffer)).ToArray();
        restarted.NotifyQueue(VirtioNetDevice.ReceiveQueue);

        Assert.Equal(5, heldBefore);
        Assert.Equal(0, net.HeldFrames);
        Assert.Equal(7, _rx.UsedIdx);
        for (var i = 2; i < 7; i++)
        {
            Assert.True(TestFrames.TcpV4Verifies(_ram.ReadBytes(buffers[i - 2], (int)_rx.ReadUsed(i).Length)));
        }
    }

    [Fact]
    public void Net_should_stay_bounded_while_the_port_floods_a_guest_that_never_refills()
    {
        Start(All);
        for (var i = 0; i < 4; i++)
        {
            PostReceive(GoodBuffer);
        }

        var txFrame = _ram.AllocateFilled(TestFrames.Raw(1000));
        var maxHeld = 0;
        for (var i = 0; i < 5000; i++)
        {
            _port.Deliver(TestFrames.Raw(1000));
            maxHeld = Math.Max(maxHeld, _net.HeldFrames);
            if (i % 50 == 0)
            {
                _tx.AddChain(Buf.Readable(txFrame, 1012));
                _driver.Notify(VirtioNetDevice.TransmitQueue);
            }
        }

        var state = _net.SaveDeviceState() as byte[];

        Assert.Equal(4, _rx.UsedIdx);
        Assert.Equal(1, maxHeld);
        Assert.True(state is not null && state.Length <= 4 + 1012);
        Assert.Equal(256, _port.PendingFrames);
        Assert.Equal(5000 - 4 - 1 - 256, _port.Dropped);
        Assert.Equal(100, _port.Sent.Count);
    }

    [Fact]
    public void Net_should_survive_random_chains_and_random_frames()
    {
        var random = new Random(1901);
        Start(All);
        const int areaSize = 256 << 10;
        var area = _ram.Allocate(areaSize);
        var garbage = new byte[areaSize];
        random.NextBytes(garbage);
        _ram.Memory.Write(area, garbage);
        var valid = _ram.AllocateFilled(TestFrames.TcpV4(1000));
        for (var round = 0; round < 3000; round++)
        {
            var index = random.Next(2);
            var queue = index == VirtioNetDevice.ReceiveQueue ? _rx : _tx;
            if ((ushort)(queue.AvailIdx - _device.GetQueueState(index).NextAvail) < QueueSize - 4)
            {
                var buffers = new Buf[random.Next(1, 5)];
                for (var i = 0; i < buffers.Length; i++)
                {
                    var length = (uint)random.Next(1, random.Next(2) == 0 ? 2000 : 70_000);
                    var at = area.Value + (ulong)random.Next(0, areaSize - 70_000);
                    buffers[i] = new Buf(new GuestAddress(at), length, random.Next(3) == 0);
                }

                if (index == VirtioNetDevice.TransmitQueue && random.Next(3) == 0)
                {
                    buffers = [Buf.Readable(valid, (uint)random.Next(1, 1100))];
                }

                queue.AddChain(buffers.OrderBy(b => b.IsWritable).ToArray());
            }

            if (random.Next(40) == 0)
            {
                // A raw descriptor with random fields (may point anywhere, loop, or be indirect).
                queue.WriteDescriptor((ushort)random.Next(QueueSize), (ulong)random.NextInt64(), (uint)random.Next(), (ushort)random.Next(8), (ushort)random.Next());
            }

            if (random.Next(3) == 0)
            {
                var frame = new byte[random.Next(0, 3000)];
                random.NextBytes(frame);
                if (frame.Length > 1 && random.Next(2) == 0)
                {
                    frame[1] = VirtioNetHeader.GsoNone;
                }

                _port.Deliver(frame);
            }

            _driver.Notify(index);
            Assert.InRange(_net.HeldFrames, 0, NetOffload.MaxSegments);
            Assert.Equal(0, _driver.Status & (byte)VirtioDeviceStatus.DeviceNeedsReset);
        }

        Assert.True(_net.TxFrames > 0 && _net.TxMalformed > 0, $"tx {_net.TxFrames} sent, {_net.TxMalformed} malformed");
        Assert.True(_net.RxFrames > 0 && _net.RxDropped > 0 && _net.RxBadBuffers > 0, $"rx {_net.RxFrames} received, {_net.RxDropped} dropped, {_net.RxBadBuffers} bad buffers");
        Assert.True(_port.Sent.All(f => f.Length <= NetFrame.MaxSize));
    }

    /// <summary>Brings the device up with <paramref name="features"/> and both queues.</summary>
    private void Start(ulong features)
    {
        Assert.True(_driver.Negotiate(features));
        _driver.SetupQueue(VirtioNetDevice.ReceiveQueue, _rx);
        _driver.SetupQueue(VirtioNetDevice.TransmitQueue, _tx);
        _driver.AddStatus(VirtioDeviceStatus.DriverOk);
    }

    private GuestAddress PostReceive(uint length)
    {
        var buffer = _ram.Allocate(length);
        _rx.AddChain(Buf.Writable(buffer, length));
        return buffer;
    }

    private void Transmit(byte[] frame)
    {
        // Two descriptors when one would exceed the queue's per-descriptor limit.
        var at = _ram.AllocateFilled(frame);
        var half = (uint)(frame.Length / 2);
        _tx.AddChain(Buf.Readable(at, half), Buf.Readable(at.CheckedAdd(half), (uint)frame.Length - half));
        _driver.Notify(VirtioNetDevice.TransmitQueue);
    }
}
