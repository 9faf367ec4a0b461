using System.Buffers.Binary;
using ActorVmm.Devices.Pci;
using ActorVmm.Devices.Tests.Pci;
using ActorVmm.Devices.Virtio;
using ActorVmm.TestSupport.Fakes;
using ActorVmm.TestSupport.Virtio;
using Xunit;
using static ActorVmm.TestSupport.Virtio.MockVirtqueue;

namespace ActorVmm.Devices.Tests.Virtio;

/// <summary>The virtio-pci transport with MSI-X, as Linux's virtio_pci uses it: one vector for config, one per queue.</summary>
public sealed class VirtioPciMsixTests : IDisposable
{
    private const ulong BarAddress = 0xE000_8000;
    private const ulong Apic = 0xFEE0_0000;
    private const ushort NoVector = VirtioPciLayout.NoVector;

    private readonly TestMemory _ram = new();
    private readonly RecordingInterruptLine _line = new();
    private readonly RecordingMsi _msi = new(2);
    private readonly VirtioRngDevice _rng = new();
    private readonly VirtioPciDevice _device;
    private readonly VirtioPciDriver _driver;
    private readonly MockVirtqueue _queue;

    public VirtioPciMsixTests()
    {
        _device = new VirtioPciDevice("rng0", _rng, _ram.Memory, _line, BarAddress, irq: 10, msi: _msi);
        _driver = new VirtioPciDriver(_device);
        _queue = new MockVirtqueue(_ram.Memory, TestMemory.RingBase(0), 64);
    }

    public void Dispose()
    {
        _rng.Dispose();
        _ram.Dispose();
    }

    [Fact]
    public void Msix_capability_should_point_at_the_table_and_pba_in_bar_0()
    {
        var at = _device.Msix!.CapabilityOffset;

        Assert.Equal(MsixCapability.CapabilityId, (byte)_device.Configuration.ReadRegister(at / 4));
        Assert.Equal(1, _device.Configuration.ReadWord(at + 2)); // two vectors
        Assert.Equal((uint)VirtioPciLayout.MsixTableOffset, _device.Configuration.ReadRegister((at / 4) + 1));
        Assert.Equal((uint)VirtioPciLayout.MsixPbaOffset, _device.Configuration.ReadRegister((at / 4) + 2));
    }

    [Fact]
    public void Without_msi_vectors_no_msix_capability_is_offered_and_vectors_read_no_vector()
    {
        using var rng = new VirtioRngDevice();
        var device = new VirtioPciDevice("rng0", rng, _ram.Memory, _line, BarAddress, irq: 10);
        var driver = new VirtioPciDriver(device);

        driver.Write16(0x10, 0);
        driver.Write16(0x1A, 0);

        Assert.Null(device.Msix);
        Assert.Equal(NoVector, driver.Read16(0x10));
        Assert.Equal(NoVector, driver.Read16(0x1A));
        Assert.Equal(uint.MaxValue, driver.Read32(VirtioPciLayout.MsixTableOffset));
    }

    [Fact]
    public void Vector_registers_should_read_back_vectors_the_table_has_and_no_vector_otherwise()
    {
        _driver.Write16(0x10, 1);
        _driver.Write16(0x16, 0);
        _driver.Write16(0x1A, 0);
        var config = _driver.Read16(0x10);
        var queue = _driver.Read16(0x1A);

        _driver.Write16(0x10, 2);
        _driver.Write16(0x1A, 0x7FFF);
        _driver.Write16(0x16, 5); // no such queue
        _driver.Write16(0x1A, 0);

        Assert.Equal(1, config);
        Assert.Equal(0, queue);
        Assert.Equal(NoVector, _driver.Read16(0x10));
        _driver.Write16(0x16, 0);
        Assert.Equal(NoVector, _driver.Read16(0x1A));
        Assert.True(_device.Stats.GuestErrors > 0);
    }

    [Fact]
    public void Used_buffers_should_send_the_queue_vector_without_touching_isr_or_intx()
    {
        BringUpWithMsix(configVector: 0, queueVector: 1);
        _queue.AddChain(Buf.Writable(_ram.Allocate(32), 32));

        _driver.Notify(0);

        Assert.Equal(1, _queue.UsedIdx);
        Assert.Equal(1, _msi.Sent(1));
        Assert.Equal(0, _msi.Sent(0));
        Assert.Equal(0, _line.Raised);
        Assert.Equal(0, _device.Isr);
        Assert.False(_device.Configuration.InterruptStatus);
    }

    [Fact]
    public void A_queue_mapped_to_no_vector_should_not_interrupt_at_all()
    {
        BringUpWithMsix(configVector: 0, queueVector: NoVector);
        _queue.AddChain(Buf.Writable(_ram.Allocate(32), 32));

        _driver.Notify(0);

        Assert.Equal(1, _queue.UsedIdx);
        Assert.Equal(0, _msi.TotalSent);
        Assert.Equal(0, _line.Raised);
    }

    [Fact]
    public void A_masked_queue_vector_should_be_pending_and_sent_on_unmask()
    {
        BringUpWithMsix(configVector: 0, queueVector: 1);
        _driver.Write32(VirtioPciLayout.MsixTableOffset + 16 + 12, 1);
        _queue.AddChain(Buf.Writable(_ram.Allocate(32), 32));

        _driver.Notify(0);
        var pending = _driver.Read64(VirtioPciLayout.MsixPbaOffset);
        _driver.Write32(VirtioPciLayout.MsixTableOffset + 16 + 12, 0);

        Assert.Equal(0b10UL, pending);
        Assert.Equal(1, _msi.Sent(1));
        Assert.Equal(0UL, _driver.Read64(VirtioPciLayout.MsixPbaOffset));
    }

    [Fact]
    public void Until_msix_is_enabled_the_transport_should_use_intx()
    {
        _driver.Initialize(_queue);
        _driver.Write16(0x16, 0);
        _queue.AddChain(Buf.Writable(_ram.Allocate(32), 32));

        _driver.Notify(0);

        Assert.True(_line.Level);
        Assert.Equal(VirtioPciLayout.IsrQueue, _driver.ReadIsr());
        Assert.Equal(0, _msi.TotalSent);
    }

    [Fact]
    public void Enabling_msix_should_drop_a_raised_intx_line()
    {
        _driver.Initialize(_queue);
        _queue.AddChain(Buf.Writable(_ram.Allocate(32), 32));
        _driver.Notify(0);
        var before = _line.Level;

        EnableMsix();

        Assert.True(before);
        Assert.False(_line.Level);
    }

    [Fact]
    public void A_configuration_interrupt_should_set_isr_and_send_the_config_vector()
    {
        BringUpWithMsix(configVector: 0, queueVector: 1);
        _queue.SetAvailIdx(1000);

        _driver.Notify(0);

        Assert.NotEqual(0, _driver.Status & (byte)VirtioDeviceStatus.DeviceNeedsReset);
        Assert.Equal(1, _msi.Sent(0));
        Assert.Equal(0, _line.Raised);
        Assert.Equal(VirtioPciLayout.IsrConfig, _device.Isr);
    }

    [Fact]
    public void Driver_reset_should_unmap_the_vectors_but_keep_the_msix_table()
    {
        BringUpWithMsix(configVector: 0, queueVector: 1);

        _driver.Write8(0x14, 0);

        Assert.Equal(NoVector, _driver.Read16(0x10));
        _driver.Write16(0x16, 0);
        Assert.Equal(NoVector, _driver.Read16(0x1A));
        Assert.Equal((uint)Apic, _driver.Read32(VirtioPciLayout.MsixTableOffset + 16));
        Assert.True(_device.MsixEnabled);
    }

    [Fact]
    public void A_restarted_transport_should_keep_msix_vectors_and_mapping()
    {
        BringUpWithMsix(configVector: 0, queueVector: 1);
        _queue.AddChain(Buf.Writable(_ram.Allocate(16), 16));
        _driver.Notify(0);
        var saved = _device.SaveState();

        using var rng = new VirtioRngDevice();
        var msi = new RecordingMsi(2);
        var line = new RecordingInterruptLine();
        var restarted = new VirtioPciDevice("rng0", rng, _ram.Memory, line, BarAddress, irq: 10, msi: msi);
        restarted.RestoreState(saved);
        _queue.SetUsedEvent(1); // EVENT_IDX: the driver wants an interrupt for the next used entry
        _queue.AddChain(Buf.Writable(_ram.Allocate(16), 16));
        restarted.NotifyQueue(0);

        Assert.Equal(2, _queue.UsedIdx);
        Assert.True(restarted.MsixEnabled);
        Assert.Equal(new MsiMessage(Apic, 0x41), msi.Route(1));
        Assert.Equal(1, msi.Sent(1));
        Assert.Equal(0, line.Raised);
        Assert.Equal(0, new VirtioPciDriver(restarted).Read16(0x10));
    }

    [Fact]
    public void Power_on_reset_should_disable_msix_and_mask_the_table()
    {
        BringUpWithMsix(configVector: 0, queueVector: 1);

        _device.Reset();

        Assert.False(_device.MsixEnabled);
        Assert.True(_device.Msix!.IsMasked(1));
        Assert.Null(_msi.Route(1));
    }

    [Fact]
    public void Garbage_msix_traffic_should_never_throw_and_a_fresh_bring_up_should_still_interrupt()
    {
        BringUpWithMsix(configVector: 0, queueVector: 1);
        var buffer = _ram.Allocate(16);
        var random = new Random(5);
        var data = new byte[8];
        for (var i = 0; i < 30000; i++)
        {
            var length = random.Next(0, 9);
            var offset = VirtioPciLayout.MsixTableOffset + (ulong)random.Next(-16, 0x1100);
            random.NextBytes(data);
            switch (random.Next(5))
            {
                case 0:
                    _device.Read(offset, data.AsSpan(0, length));
                    break;
                case 1:
                    _device.Write(offset, data.AsSpan(0, length));
                    break;
                case 2:
                    _device.Write((ulong)random.Next(0x10, 0x1C), data.AsSpan(0, length));
                    break;
                case 3:
                    _device.WriteConfig(_device.Msix!.CapabilityOffset + random.Next(0, 12), data.AsSpan(0, Math.Min(length, 4)));
                    break;
                default:
                    _queue.AddChain(Buf.Writable(buffer, 16));
                    _device.NotifyQueue(random.Next(-1, 3));
                    break;
            }
        }

        var sentBefore = _msi.Sent(1);
        _driver.Write8(0x14, 0);
        var fresh = new MockVirtqueue(_ram.Memory, TestMemory.RingBase(1), 16);
        BringUpWithMsix(configVector: 0, queueVector: 1, fresh);
        fresh.AddChain(Buf.Writable(buffer, 16));
        _driver.Notify(0);

        Assert.Equal(0x1AF4, (int)(_device.Configuration.ReadRegister(0) & 0xFFFF));
        Assert.Equal(1, fresh.UsedIdx);
        Assert.Equal(sentBefore + 1, _msi.Sent(1));
    }

    /// <summary>Linux's order: enable MSI-X, program and unmask the vectors, map them, then bring the device up.</summary>
    private void BringUpWithMsix(ushort configVector, ushort queueVector, MockVirtqueue? queue = null)
    {
        EnableMsix();
        for (var v = 0; v < 2; v++)
        {
            var entry = VirtioPciLayout.MsixTableOffset + ((ulong)v * 16);
            _driver.Write32(entry, (uint)Apic);
            _driver.Write32(entry + 4, 0);
            _driver.Write32(entry + 8, 0x40 + (uint)v);
            _driver.Write32(entry + 12, 0);
        }

        _driver.Negotiate(_driver.ReadDeviceFeatures());
        _driver.Write16(0x10, configVector);
        _driver.SetupQueue(0, queue ?? _queue);
        _driver.Write16(0x16, 0);
        _driver.Write16(0x1A, queueVector);
        _driver.AddStatus(VirtioDeviceStatus.DriverOk);
    }

    private void EnableMsix()
    {
        Span<byte> control = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(control, MsixCapability.ControlEnable);
        _device.WriteConfig(_device.Msix!.CapabilityOffset + 2, control);
    }
}
