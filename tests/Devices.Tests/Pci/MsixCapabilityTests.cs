using System.Buffers.Binary;
using ActorVmm.Devices.Pci;
using Xunit;

namespace ActorVmm.Devices.Tests.Pci;

public sealed class MsixCapabilityTests
{
    private const ulong Apic = 0xFEE0_0000;

    private readonly PciConfiguration _config = new(0x1AF4, 0x1042, 0x010000);
    private readonly DeviceStats _stats = new();
    private readonly RecordingMsi _sink = new(4);
    private readonly MsixCapability _msix;

    public MsixCapabilityTests()
    {
        _msix = new MsixCapability(_config, 3, bar: 2, tableOffset: 0x4000, pbaOffset: 0x5000, _sink, _stats);
    }

    [Fact]
    public void Capability_should_advertise_table_size_bar_and_offsets()
    {
        var at = _msix.CapabilityOffset;

        Assert.Equal((uint)at, _config.ReadRegister(PciConfiguration.CapabilitiesPointerOffset / 4) & 0xFF);
        Assert.Equal(MsixCapability.CapabilityId, (byte)_config.ReadRegister(at / 4));
        Assert.Equal(2, _config.ReadWord(at + 2)); // table size - 1, disabled, unmasked
        Assert.Equal(0x4000u | 2, _config.ReadRegister((at / 4) + 1));
        Assert.Equal(0x5000u | 2, _config.ReadRegister((at / 4) + 2));
        Assert.Equal(48UL, _msix.TableLength);
        Assert.Equal(8UL, _msix.PbaLength);
    }

    [Fact]
    public void Guest_should_only_change_the_enable_and_function_mask_bits_of_message_control()
    {
        _config.Write(_msix.CapabilityOffset + 2, [0xFF, 0xFF]);
        _msix.ConfigurationWritten();

        Assert.Equal(MsixCapability.ControlEnable | MsixCapability.ControlFunctionMask | 2, _config.ReadWord(_msix.CapabilityOffset + 2));
        Assert.True(_msix.Enabled);
        Assert.True(_msix.FunctionMasked);
        Assert.Equal(MsixCapability.CapabilityId, (byte)_config.ReadRegister(_msix.CapabilityOffset / 4));
    }

    [Fact]
    public void Vectors_should_start_masked_and_hold_a_notification_as_pending()
    {
        Enable();
        Program(1, Apic, 0x41, masked: true);

        var accepted = _msix.Notify(1);

        Assert.True(accepted);
        Assert.True(_msix.IsMasked(0));
        Assert.Equal(0, _sink.TotalSent);
        Assert.Equal(0b10UL, ReadPba());
    }

    [Fact]
    public void Unmasking_a_pending_vector_should_send_it_once_and_clear_its_pending_bit()
    {
        Enable();
        Program(1, Apic, 0x41, masked: true);
        _msix.Notify(1);

        WriteTable(1, 3, 0);
        _msix.Notify(1);

        Assert.Equal(2, _sink.Sent(1));
        Assert.Equal(new MsiMessage(Apic, 0x41), _sink.Route(1));
        Assert.Equal(0UL, ReadPba());
    }

    [Fact]
    public void Function_mask_should_hold_every_vector_pending_until_it_is_cleared()
    {
        Program(0, Apic, 0x30, masked: false);
        Program(2, Apic | 0x1000, 0x32, masked: false);
        SetControl(MsixCapability.ControlEnable | MsixCapability.ControlFunctionMask);

        _msix.Notify(0);
        _msix.Notify(2);
        var pendingWhileMasked = ReadPba();
        SetControl(MsixCapability.ControlEnable);

        Assert.Equal(0b101UL, pendingWhileMasked);
        Assert.Equal(1, _sink.Sent(0));
        Assert.Equal(1, _sink.Sent(2));
        Assert.Equal(0UL, ReadPba());
    }

    [Fact]
    public void Message_changes_on_a_masked_vector_should_reach_the_controller_only_when_unmasked()
    {
        Enable();
        WriteTable(0, 0, (uint)Apic);
        WriteTable(0, 1, 0);
        WriteTable(0, 2, 0x51);
        var before = _sink.RouteChanges;

        WriteTable(0, 3, 0);

        Assert.Equal(0, before);
        Assert.Equal(1, _sink.RouteChanges);
        Assert.Equal(new MsiMessage(Apic, 0x51), _sink.Route(0));
    }

    [Fact]
    public void A_message_outside_the_interrupt_window_should_be_refused_counted_and_never_sent()
    {
        Enable();
        Program(0, 0x1234_5678_9ABC_DEF0, 0xFFFF_FFFF, masked: false);

        _msix.Notify(0);
        _msix.Notify(0);

        Assert.Null(_sink.Route(0));
        Assert.Equal(0, _sink.TotalSent);
        Assert.True(_stats.GuestErrors >= 3);
    }

    [Fact]
    public void A_refused_vector_should_work_again_once_the_guest_programs_a_real_message()
    {
        Enable();
        Program(0, 0xDEAD_0000, 1, masked: false);
        WriteTable(0, 3, 1);

        Program(0, Apic, 0x61, masked: false);
        _msix.Notify(0);

        Assert.Equal(1, _sink.Sent(0));
    }

    [Fact]
    public void Notify_should_refuse_vectors_outside_the_table()
    {
        Enable();

        Assert.False(_msix.Notify(3));
        Assert.False(_msix.Notify(-1));
        Assert.False(_msix.Notify(0xFFFF));
        Assert.Equal(0UL, ReadPba());
    }

    [Fact]
    public void Qword_table_access_should_read_and_write_address_pairs()
    {
        Span<byte> data = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(data, 0x0000_0001_FEE0_1000);
        _msix.WriteTable(16, data);
        data.Clear();

        _msix.ReadTable(16, data);

        Assert.Equal(0x0000_0001_FEE0_1000UL, BinaryPrimitives.ReadUInt64LittleEndian(data));
        Assert.Equal(0x0000_0001_FEE0_1000UL, _msix.MessageOf(1).Address);
    }

    [Fact]
    public void Vector_control_should_keep_only_the_mask_bit()
    {
        WriteTable(0, 3, 0xFFFF_FFFE);

        Assert.Equal(0u, ReadTable(0, 3));
        Assert.False(_msix.IsMasked(0));
    }

    [Fact]
    public void Garbage_table_and_pba_accesses_should_never_throw_and_leave_the_pba_read_only()
    {
        var random = new Random(11);
        var data = new byte[16];
        for (var i = 0; i < 20000; i++)
        {
            var length = random.Next(0, 17);
            var offset = (ulong)random.Next(-8, 80);
            random.NextBytes(data);
            switch (random.Next(4))
            {
                case 0:
                    _msix.ReadTable(offset, data.AsSpan(0, length));
                    break;
                case 1:
                    _msix.WriteTable(offset, data.AsSpan(0, length));
                    break;
                case 2:
                    _msix.ReadPba(offset, data.AsSpan(0, length));
                    break;
                default:
                    _msix.WritePba();
                    _msix.Notify(random.Next(-2, 6));
                    break;
            }
        }

        // The PBA only ever holds bits of vectors the table has.
        Assert.Equal(0UL, ReadPba() & ~0b111UL);
        Assert.True(_stats.UnhandledReads > 0);
        Assert.True(_stats.UnhandledWrites > 0);
    }

    [Fact]
    public void Restored_state_should_keep_the_table_and_pending_bits_and_route_unmasked_vectors_again()
    {
        Program(0, Apic, 0x70, masked: false);
        Program(1, Apic, 0x71, masked: true);
        SetControl(MsixCapability.ControlEnable);
        _msix.Notify(1);
        var savedTable = _msix.SaveState();
        var savedConfig = _config.SaveState();

        var config = new PciConfiguration(0x1AF4, 0x1042, 0x010000);
        var sink = new RecordingMsi(4);
        var restored = new MsixCapability(config, 3, 2, 0x4000, 0x5000, sink, new DeviceStats());
        config.RestoreState(savedConfig);
        restored.RestoreState(savedTable);
        restored.Notify(0);

        Assert.True(restored.Enabled);
        Assert.True(restored.IsMasked(1));
        Assert.True(restored.IsPending(1));
        Assert.Equal(new MsiMessage(Apic, 0x70), sink.Route(0));
        Assert.Equal(1, sink.Sent(0));
        Assert.Throws<ArgumentException>(() => restored.RestoreState(new MsixState(new uint[4], new ulong[1])));
    }

    [Fact]
    public void Reset_should_mask_every_vector_drop_pending_bits_and_routes()
    {
        Program(0, Apic, 0x70, masked: false);
        Program(1, Apic, 0x71, masked: true);
        Enable();
        _msix.Notify(1);

        _config.Write(_msix.CapabilityOffset + 2, [0, 0]);
        _msix.Reset();

        Assert.True(Enumerable.Range(0, 3).All(_msix.IsMasked));
        Assert.Equal(0UL, ReadPba());
        Assert.Null(_sink.Route(0));
        Assert.False(_msix.Enabled);
        Assert.Equal(default, _msix.MessageOf(0));
    }

    [Fact]
    public void Constructor_should_refuse_more_vectors_than_the_sink_has()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            new MsixCapability(new PciConfiguration(1, 2, 0), 5, 0, 0, 0x100, new RecordingMsi(4), new DeviceStats()));
        Assert.Throws<ArgumentException>(() =>
            new MsixCapability(new PciConfiguration(1, 2, 0), 1, 0, 4, 0x100, new RecordingMsi(4), new DeviceStats()));
    }

    private void Enable() => SetControl(MsixCapability.ControlEnable);

    private void SetControl(ushort control)
    {
        Span<byte> data = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(data, control);
        _config.Write(_msix.CapabilityOffset + 2, data);
        _msix.ConfigurationWritten();
    }

    private void Program(int vector, ulong address, uint data, bool masked)
    {
        WriteTable(vector, 3, 1);
        WriteTable(vector, 0, (uint)address);
        WriteTable(vector, 1, (uint)(address >> 32));
        WriteTable(vector, 2, data);
        WriteTable(vector, 3, masked ? 1u : 0u);
    }

    private void WriteTable(int vector, int dword, uint value)
    {
        Span<byte> data = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(data, value);
        _msix.WriteTable((ulong)((vector * 16) + (dword * 4)), data);
    }

    private uint ReadTable(int vector, int dword)
    {
        Span<byte> data = stackalloc byte[4];
        _msix.ReadTable((ulong)((vector * 16) + (dword * 4)), data);
        return BinaryPrimitives.ReadUInt32LittleEndian(data);
    }

    private ulong ReadPba()
    {
        Span<byte> data = stackalloc byte[8];
        _msix.ReadPba(0, data);
        return BinaryPrimitives.ReadUInt64LittleEndian(data);
    }
}
