using ActorVmm.Devices.Pci;
using ActorVmm.Devices.Virtio;
using ActorVmm.Kvm.Memory;
using ActorVmm.TestSupport.Fakes;
using ActorVmm.TestSupport.Virtio;
using Xunit;
using static ActorVmm.TestSupport.Virtio.MockVirtqueue;

namespace ActorVmm.Devices.Tests.Virtio;

public sealed class VirtioPciDeviceTests : IDisposable
{
    private const ulong BarAddress = 0xE000_8000;

    private readonly TestMemory _ram = new();
    private readonly RecordingInterruptLine _line = new();
    private readonly VirtioRngDevice _rng = new();
    private readonly VirtioPciDevice _device;
    private readonly VirtioPciDriver _driver;
    private readonly MockVirtqueue _queue;

    public VirtioPciDeviceTests()
    {
        _device = new VirtioPciDevice("rng0", _rng, _ram.Memory, _line, BarAddress, irq: 10);
        _driver = new VirtioPciDriver(_device);
        _queue = new MockVirtqueue(_ram.Memory, TestMemory.RingBase(0), 64);
    }

    public void Dispose()
    {
        _rng.Dispose();
        _ram.Dispose();
    }

    [Fact]
    public void Device_features_should_include_version_1_event_idx_and_indirect()
    {
        var features = _driver.ReadDeviceFeatures();

        Assert.Equal(VirtioFeatures.TransportDefault, features & VirtioFeatures.TransportDefault);
        Assert.Equal(1, _driver.Read16(0x12));
        Assert.Equal(VirtioPciLayout.NoVector, _driver.Read16(0x10));
    }

    [Fact]
    public void Features_ok_should_stick_when_the_driver_accepts_a_subset_with_version_1()
    {
        var accepted = _driver.Negotiate(VirtioFeatures.Version1 | VirtioFeatures.RingEventIdx);

        Assert.True(accepted);
        Assert.Equal(VirtioFeatures.Version1 | VirtioFeatures.RingEventIdx, _device.DriverFeatures);
    }

    [Fact]
    public void Features_ok_should_be_refused_without_version_1()
    {
        var accepted = _driver.Negotiate(VirtioFeatures.RingEventIdx);

        Assert.False(accepted);
        Assert.Equal((byte)(VirtioDeviceStatus.Acknowledge | VirtioDeviceStatus.Driver), _driver.Status);
    }

    [Fact]
    public void Features_ok_should_be_refused_for_features_the_device_did_not_offer()
    {
        Assert.False(_driver.Negotiate(VirtioFeatures.Version1 | (1UL << 40)));
    }

    [Fact]
    public void Driver_features_should_be_frozen_after_features_ok()
    {
        _driver.Negotiate(VirtioFeatures.Version1);

        _driver.WriteDriverFeatures(VirtioFeatures.TransportDefault);

        Assert.Equal(VirtioFeatures.Version1, _device.DriverFeatures);
        Assert.True(_device.Stats.GuestErrors > 0);
    }

    [Fact]
    public void Driver_ok_without_features_ok_should_be_refused()
    {
        _driver.AddStatus(VirtioDeviceStatus.Acknowledge | VirtioDeviceStatus.Driver);

        _driver.AddStatus(VirtioDeviceStatus.DriverOk);

        Assert.Equal(0, _driver.Status & (byte)VirtioDeviceStatus.DriverOk);
    }

    [Fact]
    public void Queue_registers_should_read_back_what_the_driver_programmed()
    {
        _driver.Negotiate(VirtioFeatures.TransportDefault);

        _driver.SetupQueue(0, _queue);

        Assert.Equal(64, _driver.Read16(0x18));
        Assert.Equal(1, _driver.Read16(0x1C));
        Assert.Equal(0, _driver.Read16(0x1E));
        Assert.Equal(_queue.Desc.Value, _driver.Read64(0x20));
        Assert.Equal(_queue.Avail.Value, _driver.Read64(0x28));
        Assert.Equal(_queue.Used.Value, _driver.Read64(0x30));
    }

    [Fact]
    public void Queue_enable_should_be_refused_for_a_size_above_the_maximum()
    {
        _driver.Negotiate(VirtioFeatures.TransportDefault);
        _driver.Write16(0x16, 0);
        var max = _driver.Read16(0x18);

        _driver.SetupQueue(0, new MockVirtqueue(_ram.Memory, TestMemory.RingBase(0), (ushort)(max * 2)));

        Assert.Equal(0, _driver.Read16(0x1C));
        Assert.True(_device.Stats.GuestErrors > 0);
    }

    [Fact]
    public void Queue_enable_should_be_refused_for_rings_outside_guest_memory()
    {
        _driver.Negotiate(VirtioFeatures.TransportDefault);
        _driver.Write16(0x16, 0);
        _driver.Write64(0x20, TestMemory.RamSize + 0x1000);
        _driver.Write64(0x28, 0x2000);
        _driver.Write64(0x30, 0x3000);

        _driver.Write16(0x1C, 1);

        Assert.Equal(0, _driver.Read16(0x1C));
    }

    [Fact]
    public void Selecting_a_missing_queue_should_read_size_zero_and_ignore_writes()
    {
        _driver.Negotiate(VirtioFeatures.TransportDefault);
        _driver.Write16(0x16, 7);

        _driver.Write16(0x18, 16);
        _driver.Write16(0x1C, 1);

        Assert.Equal(0, _driver.Read16(0x18));
        Assert.Equal(0, _driver.Read16(0x1C));
    }

    [Fact]
    public void Notify_should_serve_the_queue_and_raise_intx_until_isr_is_read()
    {
        _driver.Initialize(_queue);
        var buffer = _ram.Allocate(32);
        _queue.AddChain(Buf.Writable(buffer, 32));

        _driver.Notify(0);
        var raised = _line.Level;
        var isr = _driver.ReadIsr();

        Assert.Equal(1, _queue.UsedIdx);
        Assert.Equal((0u, 32u), _queue.ReadUsed(0));
        Assert.True(raised);
        Assert.Equal(VirtioPciLayout.IsrQueue, isr);
        Assert.False(_line.Level);
        Assert.Equal(0, _driver.ReadIsr());
    }

    [Fact]
    public void Notify_through_ioeventfd_path_should_equal_an_mmio_notify()
    {
        _driver.Initialize(_queue);
        _queue.AddChain(Buf.Writable(_ram.Allocate(16), 16));

        _device.NotifyQueue(0);

        Assert.Equal(1, _queue.UsedIdx);
        Assert.Equal(BarAddress + VirtioPciLayout.NotifyOffset, _device.NotifyAddress(0));
    }

    [Fact]
    public void Buffers_made_available_before_driver_ok_should_be_served_on_activation()
    {
        _driver.Negotiate(_driver.ReadDeviceFeatures());
        _driver.SetupQueue(0, _queue);
        _queue.AddChain(Buf.Writable(_ram.Allocate(16), 16));
        _driver.Notify(0);
        var before = _queue.UsedIdx;

        _driver.AddStatus(VirtioDeviceStatus.DriverOk);

        Assert.Equal(0, before);
        Assert.Equal(1, _queue.UsedIdx);
    }

    [Fact]
    public void Intx_disable_should_keep_the_line_low_but_report_interrupt_status()
    {
        _driver.Initialize(_queue);
        _device.WriteConfig(4, [0x06, 0x04]);
        _queue.AddChain(Buf.Writable(_ram.Allocate(16), 16));

        _driver.Notify(0);

        Assert.False(_line.Level);
        Assert.True(_device.Configuration.InterruptStatus);
        _device.WriteConfig(4, [0x06, 0x00]);
        Assert.True(_line.Level);
    }

    [Fact]
    public void Writing_status_zero_should_reset_features_queues_and_isr()
    {
        _driver.Initialize(_queue);
        _queue.AddChain(Buf.Writable(_ram.Allocate(16), 16));
        _driver.Notify(0);

        _driver.Write8(0x14, 0);

        Assert.Equal(0, _driver.Status);
        Assert.Equal(0UL, _device.DriverFeatures);
        Assert.Equal(0, _device.Isr);
        Assert.False(_line.Level);
        Assert.Equal(0, _driver.Read16(0x1C));
        Assert.Equal(0UL, _driver.Read64(0x20));
        Assert.Equal(_rng.MaxQueueSize, _driver.Read16(0x18));
    }

    [Fact]
    public void A_corrupt_ring_should_set_device_needs_reset_and_raise_a_config_interrupt()
    {
        _driver.Initialize(_queue);
        _queue.SetAvailIdx(1000);

        _driver.Notify(0);

        Assert.NotEqual(0, _driver.Status & (byte)VirtioDeviceStatus.DeviceNeedsReset);
        Assert.Equal(VirtioPciLayout.IsrConfig, _driver.ReadIsr());
        Assert.True(_device.Stats.GuestErrors > 0);
        Assert.Equal(1, _driver.Read8(0x15));
    }

    [Fact]
    public void A_bad_chain_should_be_completed_empty_and_counted_without_stopping_the_queue()
    {
        _driver.Initialize(_queue);
        _queue.WriteDescriptor(0, TestMemory.RamSize * 2, 16, Descriptor.FlagWrite, 0);
        _queue.Publish(0);
        _queue.Reserve(1);
        _queue.AddChain(Buf.Writable(_ram.Allocate(16), 16));

        _driver.Notify(0);

        Assert.Equal(2, _queue.UsedIdx);
        Assert.Equal((0u, 0u), _queue.ReadUsed(0));
        Assert.Equal((1u, 16u), _queue.ReadUsed(1));
        Assert.Equal(1, _device.Stats.GuestErrors);
        Assert.Equal(0, _driver.Status & (byte)VirtioDeviceStatus.DeviceNeedsReset);
    }

    [Fact]
    public void Event_idx_should_publish_avail_event_after_processing()
    {
        _driver.Initialize(_queue);
        _queue.AddChain(Buf.Writable(_ram.Allocate(16), 16));
        _queue.AddChain(Buf.Writable(_ram.Allocate(16), 16));

        _driver.Notify(0);

        Assert.Equal(2, _queue.AvailEvent);
    }

    [Fact]
    public void Garbage_register_traffic_should_never_throw()
    {
        var random = new Random(7);
        var data = new byte[9];
        _driver.Initialize(_queue);
        for (var i = 0; i < 50000; i++)
        {
            var length = random.Next(0, 10);
            var offset = (ulong)random.Next(0, 0x4100);
            random.NextBytes(data);
            if (random.Next(3) == 0)
            {
                _device.Read(offset, data.AsSpan(0, length));
            }
            else if (random.Next(2) == 0)
            {
                _device.Write(offset, data.AsSpan(0, length));
            }
            else
            {
                _device.WriteConfig(random.Next(-2, 260), data.AsSpan(0, Math.Min(length, 4)));
            }
        }

        Assert.Equal(0x1AF4, (int)(_device.Configuration.ReadRegister(0) & 0xFFFF));
        Assert.True(_device.Stats.BadSizeAccesses > 0);
    }

    [Fact]
    public void Restored_transport_should_continue_serving_the_queue_where_the_old_one_stopped()
    {
        _driver.Initialize(_queue);
        _queue.AddChain(Buf.Writable(_ram.Allocate(16), 16));
        _driver.Notify(0);
        var saved = _device.SaveState();
        _queue.AddChain(Buf.Writable(_ram.Allocate(16), 16));

        using var rng = new VirtioRngDevice();
        var line = new RecordingInterruptLine();
        var restarted = new VirtioPciDevice("rng0", rng, _ram.Memory, line, BarAddress, irq: 10);
        restarted.RestoreState(saved);
        var status = new VirtioPciDriver(restarted).Status;
        _queue.AddChain(Buf.Writable(_ram.Allocate(16), 16));
        restarted.NotifyQueue(0);

        Assert.Equal(3, _queue.UsedIdx);
        Assert.Equal([(0u, 16u), (1u, 16u), (2u, 16u)], Enumerable.Range(0, 3).Select(_queue.ReadUsed));
        Assert.NotEqual(0, status & (byte)VirtioDeviceStatus.DriverOk);
        Assert.True(line.Level);
    }

    [Fact]
    public void Guest_bar_move_should_be_reported_and_move_the_notify_addresses()
    {
        var moves = new List<PciBarMovedEventArgs>();
        _device.Configuration.BarMoved += moves.Add;

        _device.WriteConfig(0x10, [0x04, 0x00, 0x00, 0xE8]);

        Assert.Equal([new PciBarMovedEventArgs(0, BarAddress, 0xE800_0000, VirtioPciLayout.BarSize)], moves);
        Assert.Equal(0xE800_0000UL + VirtioPciLayout.NotifyOffset, _device.NotifyAddress(0));
    }

    [Fact]
    public void Unknown_bar_offsets_should_read_all_ones_and_count()
    {
        var value = _driver.Read32(0x3F00);

        Assert.Equal(0xFFFF_FFFFu, value);
        Assert.Equal(1, _device.Stats.UnhandledReads);
    }

    [Fact]
    public void Constructor_should_refuse_a_device_without_version_1()
    {
        Assert.Throws<ArgumentException>(() =>
            new VirtioPciDevice("x", new LegacyOnlyDevice(), _ram.Memory, _line, BarAddress, 10));
    }

    private sealed class LegacyOnlyDevice : IVirtioDevice
    {
        public ushort DeviceType => 4;

        public ulong AvailableFeatures => VirtioFeatures.RingEventIdx;

        public int QueueCount => 1;

        public ushort MaxQueueSize => 16;

        public int ConfigSize => 0;

        public void ReadConfig(ulong offset, Span<byte> data) => data.Clear();

        public void WriteConfig(ulong offset, ReadOnlySpan<byte> data)
        {
        }

        public void Activate(VirtioContext context)
        {
        }

        public bool ProcessQueue(int index, Virtqueue queue, GuestMemory memory) => false;

        public void Reset()
        {
        }

        public object? SaveDeviceState() => null;

        public void RestoreDeviceState(object? state)
        {
        }
    }
}
