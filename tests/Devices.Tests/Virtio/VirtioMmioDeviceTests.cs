using System.Buffers.Binary;
using ActorVmm.Devices.Virtio;
using ActorVmm.TestSupport.Fakes;
using ActorVmm.TestSupport.Virtio;
using Xunit;
using static ActorVmm.Devices.Virtio.VirtioMmioLayout;
using static ActorVmm.TestSupport.Virtio.MockVirtqueue;

namespace ActorVmm.Devices.Tests.Virtio;

public sealed class VirtioMmioDeviceTests : IDisposable
{
    private readonly TestMemory _ram = new();
    private readonly RecordingInterruptLine _line = new();
    private readonly VirtioRngDevice _rng = new();
    private readonly VirtioMmioDevice _device;
    private readonly VirtioMmioDriver _driver;
    private readonly MockVirtqueue _queue;

    public VirtioMmioDeviceTests()
    {
        _device = new VirtioMmioDevice("rng0", _rng, _ram.Memory, _line);
        _driver = new VirtioMmioDriver(_device);
        _queue = new MockVirtqueue(_ram.Memory, TestMemory.RingBase(0), 64);
    }

    public void Dispose()
    {
        _rng.Dispose();
        _ram.Dispose();
    }

    [Fact]
    public void Identification_registers_should_read_magic_version_2_device_and_vendor()
    {
        Assert.Equal(0x74726976u, _driver.Read32(MagicValue));
        Assert.Equal(2u, _driver.Read32(VersionRegister));
        Assert.Equal((uint)VirtioDeviceType.Rng, _driver.Read32(DeviceId));
        Assert.Equal(VendorId, _driver.Read32(VendorIdRegister));
    }

    [Fact]
    public void Device_features_should_be_read_a_word_at_a_time_by_select()
    {
        var features = _driver.ReadDeviceFeatures();
        _driver.Write32(DeviceFeaturesSel, 2);

        Assert.Equal(VirtioFeatures.TransportDefault, features & VirtioFeatures.TransportDefault);
        Assert.Equal(0u, _driver.Read32(DeviceFeatures));
    }

    [Fact]
    public void Features_ok_should_stick_for_a_subset_with_version_1_and_freeze_the_driver_features()
    {
        var accepted = _driver.Negotiate(VirtioFeatures.Version1 | VirtioFeatures.RingEventIdx);
        _driver.WriteDriverFeatures(VirtioFeatures.TransportDefault);

        Assert.True(accepted);
        Assert.Equal(VirtioFeatures.Version1 | VirtioFeatures.RingEventIdx, _device.DriverFeatures);
        Assert.True(_device.Stats.GuestErrors > 0);
    }

    [Fact]
    public void Features_ok_should_be_refused_without_version_1_or_with_features_not_offered()
    {
        Assert.False(_driver.Negotiate(VirtioFeatures.RingEventIdx));
        Assert.False(_driver.Negotiate(VirtioFeatures.Version1 | (1UL << 40)));
    }

    [Fact]
    public void Queue_num_max_should_give_the_device_maximum_and_zero_for_a_queue_it_lacks()
    {
        _driver.Write32(QueueSel, 0);
        var first = _driver.Read32(QueueNumMax);
        _driver.Write32(QueueSel, 1);
        var missing = _driver.Read32(QueueNumMax);
        _driver.Write32(QueueSel, 0x1_0000);

        Assert.Equal((uint)_rng.MaxQueueSize, first);
        Assert.Equal(0u, missing);
        Assert.Equal(0u, _driver.Read32(QueueNumMax));
    }

    [Fact]
    public void Queue_ready_should_read_1_after_setup_and_the_rings_be_the_ones_written()
    {
        _driver.Negotiate(VirtioFeatures.TransportDefault);

        _driver.SetupQueue(0, _queue);

        var state = _device.GetQueueState(0);
        Assert.Equal(1u, _driver.Read32(QueueReady));
        Assert.Equal((ushort)64, state.Size);
        Assert.Equal(_queue.Desc.Value, state.DescTable);
        Assert.Equal(_queue.Avail.Value, state.AvailRing);
        Assert.Equal(_queue.Used.Value, state.UsedRing);
    }

    [Fact]
    public void Queue_ready_should_be_refused_before_features_ok_and_for_bad_sizes_or_rings()
    {
        _driver.Write32(Status, (uint)(VirtioDeviceStatus.Acknowledge | VirtioDeviceStatus.Driver));
        _driver.SetupQueue(0, _queue);
        var beforeFeaturesOk = _driver.Read32(QueueReady);
        _driver.Negotiate(VirtioFeatures.TransportDefault);
        _driver.SetupQueue(0, new MockVirtqueue(_ram.Memory, TestMemory.RingBase(0), 48));
        var notPowerOfTwo = _driver.Read32(QueueReady);
        _driver.Write32(QueueNum, 0x1_0010);
        _driver.Write32(QueueDescLow, 0);
        _driver.Write32(QueueDescHigh, 1);
        _driver.Write32(QueueReady, 1);

        Assert.Equal(0u, beforeFeaturesOk);
        Assert.Equal(0u, notPowerOfTwo);
        Assert.Equal(0u, _driver.Read32(QueueReady));
        Assert.True(_device.Stats.GuestErrors >= 3);
    }

    [Fact]
    public void Queue_ready_0_should_take_a_queue_back_before_driver_ok_but_not_after()
    {
        _driver.Negotiate(VirtioFeatures.TransportDefault);
        _driver.SetupQueue(0, _queue);
        _driver.Write32(QueueReady, 0);
        var takenBack = _driver.Read32(QueueReady);
        _driver.SetupQueue(0, _queue);
        _driver.AddStatus(VirtioDeviceStatus.DriverOk);

        _driver.Write32(QueueReady, 0);

        Assert.Equal(0u, takenBack);
        Assert.Equal(1u, _driver.Read32(QueueReady));
    }

    [Fact]
    public void Notify_should_serve_the_queue_and_hold_the_line_until_the_driver_acknowledges()
    {
        _driver.Initialize(_queue);
        _queue.AddChain(Buf.Writable(_ram.Allocate(32), 32));

        _driver.Notify(0);
        var raised = _line.Level;
        var status = _driver.Read32(InterruptStatus);
        var stillHigh = _line.Level;
        var acked = _driver.AcknowledgeInterrupt();

        Assert.Equal(1, _queue.UsedIdx);
        Assert.Equal((0u, 32u), _queue.ReadUsed(0));
        Assert.True(raised);
        Assert.Equal(InterruptUsedBuffer, status);
        Assert.True(stillHigh);
        Assert.Equal(InterruptUsedBuffer, acked);
        Assert.False(_line.Level);
        Assert.Equal(0u, _driver.Read32(InterruptStatus));
    }

    [Fact]
    public void Interrupt_ack_should_clear_only_the_bits_it_names()
    {
        _driver.Initialize(_queue);
        _queue.AddChain(Buf.Writable(_ram.Allocate(16), 16));
        _driver.Notify(0);
        _device.FailStop();

        _driver.Write32(InterruptAck, InterruptUsedBuffer);

        Assert.Equal(InterruptConfigChange, _driver.Read32(InterruptStatus));
        Assert.True(_line.Level);
        Assert.NotEqual(0u, _driver.Read32(Status) & (uint)VirtioDeviceStatus.DeviceNeedsReset);
    }

    [Fact]
    public void Notify_of_a_queue_the_device_lacks_should_be_counted_not_served()
    {
        _driver.Initialize(_queue);
        _queue.AddChain(Buf.Writable(_ram.Allocate(16), 16));

        _driver.Notify(5);
        _driver.Write32(QueueNotify, uint.MaxValue);

        Assert.Equal(0, _queue.UsedIdx);
        Assert.Equal(2, _device.Stats.UnhandledWrites);
        Assert.Equal(QueueNotify, ((IQueueDevice)_device).NotifyRegister(0));
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
    public void Status_0_should_reset_the_device_queues_and_interrupt_status()
    {
        _driver.Initialize(_queue);
        _queue.AddChain(Buf.Writable(_ram.Allocate(16), 16));
        _driver.Notify(0);

        _driver.Write32(Status, 0);

        Assert.Equal(0u, _driver.Status);
        Assert.Equal(0u, _driver.Read32(QueueReady));
        Assert.Equal(0u, _driver.Read32(InterruptStatus));
        Assert.False(_line.Level);
        Assert.Equal(0UL, _device.DriverFeatures);
    }

    [Fact]
    public void Registers_should_take_only_aligned_32_bit_accesses()
    {
        Span<byte> two = stackalloc byte[2];
        _device.Read(MagicValue, two);
        var narrow = BinaryPrimitives.ReadUInt16LittleEndian(two);
        _device.Write(Status, [1]);
        Span<byte> four = stackalloc byte[4];
        _device.Read(MagicValue + 2, four);

        Assert.Equal(0xFFFF, narrow);
        Assert.Equal(0u, _driver.Status);
        Assert.Equal(0xFFFF_FFFFu, BinaryPrimitives.ReadUInt32LittleEndian(four));
        Assert.Equal(3, _device.Stats.BadSizeAccesses);
    }

    [Fact]
    public void Write_only_and_missing_registers_should_read_all_ones_and_be_counted()
    {
        Assert.Equal(uint.MaxValue, _driver.Read32(QueueNotify));
        Assert.Equal(uint.MaxValue, _driver.Read32(0x0B0));
        Assert.Equal(2, _device.Stats.UnhandledReads);
    }

    [Fact]
    public void Configuration_change_should_raise_bit_1_and_move_the_generation()
    {
        _driver.Initialize(_queue);
        var generation = _driver.Read32(ConfigGeneration);

        _device.FailStop();

        Assert.Equal(InterruptConfigChange, _driver.Read32(InterruptStatus) & InterruptConfigChange);
        Assert.NotEqual(generation, _driver.Read32(ConfigGeneration));
    }

    [Fact]
    public void Save_and_restore_should_bring_back_registers_queues_and_the_line()
    {
        _driver.Initialize(_queue);
        _queue.AddChain(Buf.Writable(_ram.Allocate(16), 16));
        _driver.Notify(0);
        var saved = _device.SaveState();
        using var rng = new VirtioRngDevice();
        var line = new RecordingInterruptLine();
        var restored = new VirtioMmioDevice("rng0", rng, _ram.Memory, line);

        restored.RestoreState(saved);

        Assert.Equal(_device.Status, restored.Status);
        Assert.Equal(InterruptUsedBuffer, restored.InterruptStatus);
        Assert.True(line.Level);
        Assert.True(restored.GetQueueState(0).Ready);
    }

    [Fact]
    public void Garbage_register_traffic_should_never_throw_nor_allocate_without_bound()
    {
        ulong[] registers =
        [
            DeviceFeaturesSel, DriverFeatures, DriverFeaturesSel, QueueSel, QueueNum, QueueReady, QueueNotify,
            InterruptAck, Status, QueueDescLow, QueueDescHigh, QueueDriverLow, QueueDriverHigh, QueueDeviceLow,
            QueueDeviceHigh,
        ];
        var random = new Random(11);
        var data = new byte[9];
        _driver.Initialize(_queue);
        _queue.AddChain(Buf.Writable(_ram.Allocate(16), 16));
        void Run(int count)
        {
            for (var i = 0; i < count; i++)
            {
                // Half the accesses are well-formed writes to real registers, so the state machine is driven deep.
                var wellFormed = random.Next(2) == 0;
                var length = wellFormed ? 4 : random.Next(0, 10);
                var offset = wellFormed ? registers[random.Next(registers.Length)] : (ulong)random.Next(0, 0x2000);
                random.NextBytes(data);
                if (wellFormed && random.Next(2) == 0)
                {
                    data[1] = data[2] = data[3] = 0;
                }

                if (random.Next(3) == 0)
                {
                    _device.Read(offset, data.AsSpan(0, length));
                }
                else
                {
                    _device.Write(offset, data.AsSpan(0, length));
                }
            }
        }

        Run(20_000);
        var before = GC.GetAllocatedBytesForCurrentThread();
        Run(100_000);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(Magic, _driver.Read32(MagicValue));
        Assert.True(_device.Stats.BadSizeAccesses > 0);
        Assert.True(_device.Stats.GuestErrors > 0);
        Assert.True(allocated < 16 << 20, $"{allocated} bytes allocated by 100000 accesses");
    }

    [Fact]
    public void A_failed_restore_should_leave_the_device_needing_reset_with_a_config_interrupt()
    {
        _driver.Initialize(_queue);
        var damaged = (VirtioPciState)_device.SaveState() with { Queues = [] };
        using var rng = new VirtioRngDevice();
        var line = new RecordingInterruptLine();
        var fresh = new VirtioMmioDevice("rng0", rng, _ram.Memory, line);

        Assert.Throws<ArgumentException>(() => fresh.RestoreState(damaged));
        fresh.RestoreFailed(damaged);

        Assert.Equal(damaged.Status | (byte)VirtioDeviceStatus.DeviceNeedsReset, fresh.Status);
        Assert.Equal(InterruptConfigChange, fresh.InterruptStatus);
        Assert.True(line.Level);
    }

    [Fact]
    public void A_saved_pci_state_should_not_restore_over_mmio()
    {
        using var rng = new VirtioRngDevice();
        var pci = new VirtioPciDevice("rng0", rng, _ram.Memory, new RecordingInterruptLine(), 0xE000_0000, irq: 16);

        Assert.Throws<ArgumentException>(() => _device.RestoreState(pci.SaveState()));
        Assert.Throws<ArgumentException>(() => pci.RestoreState(_device.SaveState()));
    }
}

public sealed class VirtioMmioConfigTests : VirtioBlockTestBase
{
    [Fact]
    public void Device_configuration_should_be_read_at_0x100_in_any_width_within_its_size()
    {
        using var block = new VirtioBlockDevice(ImagePath, readOnly: false, serial: "disk0");
        var device = new VirtioMmioDevice("disk0", block, Ram.Memory, new RecordingInterruptLine());
        var driver = new VirtioMmioDriver(device);
        Span<byte> eight = stackalloc byte[8];
        device.Read(Config, eight);
        Span<byte> one = stackalloc byte[1];
        device.Read(Config + (ulong)block.ConfigSize, one);

        Assert.Equal((ulong)Sectors, BinaryPrimitives.ReadUInt64LittleEndian(eight));
        Assert.Equal((uint)Sectors, driver.Read32(Config));
        Assert.Equal(0xFF, one[0]);
        Assert.Equal(1, device.Stats.UnhandledReads);
    }
}
