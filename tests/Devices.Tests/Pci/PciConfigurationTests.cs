using System.Buffers.Binary;
using ActorVmm.Devices.Pci;
using Xunit;

namespace ActorVmm.Devices.Tests.Pci;

public sealed class PciConfigurationTests
{
    [Fact]
    public void Identity_registers_should_be_read_only()
    {
        var config = new PciConfiguration(0x1234, 0x5678, 0x0C0330, revision: 7);

        config.Write(0, [0xFF, 0xFF, 0xFF, 0xFF]);
        config.Write(8, [0, 0, 0, 0]);

        Assert.Equal(0x5678_1234u, config.ReadRegister(0));
        Assert.Equal(0x0C03_3007u, config.ReadRegister(2));
    }

    [Fact]
    public void Command_register_should_only_take_its_writable_bits()
    {
        var config = new PciConfiguration(1, 2, 0);

        config.Write(PciConfiguration.CommandOffset, [0xFF, 0xFF]);

        Assert.Equal(0x0547, config.Command);
        Assert.True(config.InterruptDisabled);
    }

    [Fact]
    public void Memory32_bar_should_answer_the_sizing_probe_and_restore()
    {
        var config = new PciConfiguration(1, 2, 0);
        config.AddBar(new PciBar(1, 0x1000, PciBarKind.Memory32, 0xE010_0000));

        WriteDword(config, 0x14, 0xFFFF_FFFF);
        var probed = config.ReadRegister(5);
        WriteDword(config, 0x14, 0xE010_0000);

        Assert.Equal(0xFFFF_F000u, probed);
        Assert.Equal(0xE010_0000u, config.ReadRegister(5));
        Assert.Equal(0xE010_0000UL, config.GetBarAddress(1));
    }

    [Fact]
    public void Memory64_bar_should_size_across_both_registers()
    {
        var config = new PciConfiguration(1, 2, 0);
        config.AddBar(new PciBar(2, 0x1_0000_0000, PciBarKind.Memory64, 0x10_0000_0000, Prefetchable: true));

        WriteDword(config, 0x18, 0xFFFF_FFFF);
        WriteDword(config, 0x1C, 0xFFFF_FFFF);
        var lo = config.ReadRegister(6);
        var hi = config.ReadRegister(7);

        Assert.Equal(0x0000_000Cu, lo);
        Assert.Equal(0xFFFF_FFFFu, hi);
    }

    [Fact]
    public void Io_bar_should_report_io_space_and_size()
    {
        var config = new PciConfiguration(1, 2, 0);
        config.AddBar(new PciBar(0, 0x20, PciBarKind.Io, 0xC000));

        WriteDword(config, 0x10, 0xFFFF_FFFF);

        Assert.Equal(0xFFFF_FFE1u, config.ReadRegister(4));
    }

    [Fact]
    public void Unused_bar_and_rom_registers_should_read_zero_after_probing()
    {
        var config = new PciConfiguration(1, 2, 0);

        WriteDword(config, 0x20, 0xFFFF_FFFF);
        WriteDword(config, 0x30, 0xFFFF_F800);

        Assert.Equal(0u, config.ReadRegister(8));
        Assert.Equal(0u, config.ReadRegister(12));
    }

    [Fact]
    public void Bar_moved_should_fire_on_a_real_move_but_not_during_sizing()
    {
        var config = new PciConfiguration(1, 2, 0);
        config.AddBar(new PciBar(0, 0x4000, PciBarKind.Memory64, 0xE000_0000));
        var moves = new List<PciBarMovedEventArgs>();
        config.BarMoved += moves.Add;

        WriteDword(config, 0x10, 0xFFFF_FFFF);
        WriteDword(config, 0x14, 0xFFFF_FFFF);
        WriteDword(config, 0x10, 0xE000_0000);
        WriteDword(config, 0x14, 0);
        var afterSizing = moves.Count;
        WriteDword(config, 0x10, 0xE100_0000);

        Assert.Equal(0, afterSizing);
        Assert.Equal([new PciBarMovedEventArgs(0, 0xE000_0000, 0xE100_0000, 0x4000)], moves);
        Assert.Equal(0xE100_0000UL, config.GetBarAddress(0));
    }

    [Fact]
    public void Bar_should_drop_unaligned_address_bits()
    {
        var config = new PciConfiguration(1, 2, 0);
        config.AddBar(new PciBar(0, 0x4000, PciBarKind.Memory32, 0xE000_0000));

        WriteDword(config, 0x10, 0xE000_1234);

        Assert.Equal(0xE000_0000u, config.ReadRegister(4));
        Assert.Equal(0xE000_0000UL, config.GetBarAddress(0));
    }

    [Fact]
    public void Capabilities_should_chain_from_the_pointer_and_set_the_status_bit()
    {
        var config = new PciConfiguration(1, 2, 0);

        var first = config.AddCapability([0x09, 0, 5, 1, 2]);
        var second = config.AddCapability([0x05, 0, 0, 0]);

        Assert.Equal(0x40, first);
        Assert.Equal(0x48, second);
        Assert.Equal(0x40u, config.ReadRegister(0x34 / 4) & 0xFF);
        Assert.Equal((uint)second, (config.ReadRegister(first / 4) >> 8) & 0xFF);
        Assert.Equal(0u, (config.ReadRegister(second / 4) >> 8) & 0xFF);
        Assert.NotEqual(0u, (config.ReadRegister(1) >> 16) & PciConfiguration.StatusCapabilitiesList);
    }

    [Theory]
    [InlineData(0, 3)]
    [InlineData(2, 4)]
    [InlineData(255, 2)]
    [InlineData(256, 1)]
    [InlineData(-1, 1)]
    public void Bad_config_accesses_should_read_all_ones_and_ignore_writes(int offset, int length)
    {
        var config = new PciConfiguration(1, 2, 0);
        var data = new byte[length];

        config.Read(offset, data);
        var written = config.Write(offset, new byte[length]);

        Assert.All(data, b => Assert.Equal(0xFF, b));
        Assert.False(written);
        Assert.Equal(0x0002_0001u, config.ReadRegister(0));
    }

    [Fact]
    public void Restore_state_should_bring_back_registers_and_bar_addresses()
    {
        var config = new PciConfiguration(1, 2, 0);
        config.AddBar(new PciBar(0, 0x1000, PciBarKind.Memory32, 0xE000_0000));
        WriteDword(config, 0x10, 0xE000_3000);
        WriteDword(config, 0x04, 0x6);
        var saved = config.SaveState();

        var fresh = new PciConfiguration(1, 2, 0);
        fresh.AddBar(new PciBar(0, 0x1000, PciBarKind.Memory32, 0xE000_0000));
        fresh.RestoreState(saved);

        Assert.Equal(0xE000_3000UL, fresh.GetBarAddress(0));
        Assert.True(fresh.MemorySpaceEnabled);
    }

    [Fact]
    public void Allocator_should_align_bars_to_their_size_and_stay_in_the_window()
    {
        var allocator = new PciBarAllocator(0xE000_1000, 0xE002_0000);

        var a = allocator.Allocate(0x1000);
        var b = allocator.Allocate(0x4000);
        var c = allocator.Allocate(0x10000);

        Assert.Equal(0xE000_1000UL, a);
        Assert.Equal(0xE000_4000UL, b);
        Assert.Equal(0xE001_0000UL, c);
        Assert.Throws<InvalidOperationException>(() => allocator.Allocate(0x10000));
        Assert.Throws<ArgumentOutOfRangeException>(() => allocator.Allocate(0x3000));
    }

    [Fact]
    public void Root_should_refuse_a_taken_device_number()
    {
        var root = new PciRoot();
        var device = new PciHostBridge();

        Assert.Equal(3, root.AddDevice(device, 3));
        Assert.Throws<ArgumentException>(() => root.AddDevice(new PciHostBridge(), 3));
        Assert.Throws<ArgumentException>(() => root.AddDevice(new PciHostBridge(), 0));
        Assert.Equal(1, root.AddDevice(new PciHostBridge()));
    }

    private static void WriteDword(PciConfiguration config, int offset, uint value)
    {
        Span<byte> data = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(data, value);
        Assert.True(config.Write(offset, data));
    }
}
