using System.Buffers.Binary;
using ActorVmm.Devices.Pci;
using ActorVmm.Devices.Virtio;
using ActorVmm.TestSupport.Fakes;
using ActorVmm.TestSupport.Virtio;
using Xunit;

namespace ActorVmm.Devices.Tests.Pci;

public sealed class PciConfigIoTests : IDisposable
{
    private const ulong BarAddress = 0xE000_0000;

    private readonly TestMemory _ram = new();
    private readonly PciRoot _root = new();
    private readonly PciConfigIo _io;
    private readonly VirtioPciDevice _console;
    private readonly int _consoleSlot;

    public PciConfigIoTests()
    {
        _io = new PciConfigIo(_root);
        _console = new VirtioPciDevice("console0", new VirtioConsoleDevice(_ => { }), _ram.Memory,
            new RecordingInterruptLine(), BarAddress, irq: 11);
        _consoleSlot = _root.AddDevice(_console);
    }

    public void Dispose() => _ram.Dispose();

    [Fact]
    public void Host_bridge_should_answer_at_device_0_with_vendor_device_and_bridge_class()
    {
        var id = ReadDword(0, 0x00);
        var classRev = ReadDword(0, 0x08);

        Assert.Equal(0x8086u, id & 0xFFFF);
        Assert.Equal(0x0d57u, id >> 16);
        Assert.Equal(0x0600u, classRev >> 16);
    }

    [Fact]
    public void Virtio_device_should_answer_with_the_modern_virtio_ids()
    {
        var id = ReadDword(_consoleSlot, 0x00);
        var classRev = ReadDword(_consoleSlot, 0x08);
        var subsystem = ReadDword(_consoleSlot, 0x2C);

        Assert.Equal(1, _consoleSlot);
        Assert.Equal(0x1AF4u, id & 0xFFFF);
        Assert.Equal(0x1043u, id >> 16);
        Assert.Equal(1u, classRev & 0xFF);
        Assert.Equal(0x0780u, classRev >> 16);
        Assert.Equal(0x1AF4u, subsystem & 0xFFFF);
    }

    [Theory]
    [InlineData(0, 5, 0)]
    [InlineData(0, 31, 0)]
    [InlineData(1, 0, 0)]
    [InlineData(0, 0, 3)]
    public void Missing_device_bus_or_function_should_read_all_ones(int bus, int device, int function)
    {
        Assert.Equal(0xFFFF_FFFFu, ReadDword(device, 0x00, bus, function));
    }

    [Fact]
    public void Data_port_should_read_bytes_and_words_at_their_offsets()
    {
        SetAddress(_consoleSlot, 0x00);
        Span<byte> word = stackalloc byte[2];
        Span<byte> one = stackalloc byte[1];

        _io.Read(6, word);
        _io.Read(5, one);

        Assert.Equal(0x1043, BinaryPrimitives.ReadUInt16LittleEndian(word));
        Assert.Equal(0x1A, one[0]);
    }

    [Fact]
    public void Data_port_should_read_all_ones_when_the_enable_bit_is_clear()
    {
        Span<byte> addr = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(addr, 0x0000_0000);
        _io.Write(0, addr);
        Span<byte> data = stackalloc byte[4];

        _io.Read(4, data);

        Assert.Equal(0xFFFF_FFFFu, BinaryPrimitives.ReadUInt32LittleEndian(data));
    }

    [Fact]
    public void Address_port_should_read_back_what_linux_type1_probe_writes()
    {
        _io.Write(3, [0x01]);
        Span<byte> addr = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(addr, 0x8000_0000);
        _io.Write(0, addr);
        Span<byte> back = stackalloc byte[4];

        _io.Read(0, back);

        Assert.Equal(0x8000_0000u, BinaryPrimitives.ReadUInt32LittleEndian(back));
        Assert.Equal(1, _io.Stats.UnhandledWrites);
    }

    [Fact]
    public void Config_writes_through_the_data_port_should_reach_the_device()
    {
        WriteDword(_consoleSlot, 0x04, PciConfiguration.CommandMemorySpace | PciConfiguration.CommandBusMaster);

        Assert.Equal(0x6u, ReadDword(_consoleSlot, 0x04) & 0xFFFF);
        Assert.True(_console.Configuration.MemorySpaceEnabled);
    }

    [Fact]
    public void Bar_sizing_through_the_ports_should_report_the_virtio_bar_size()
    {
        WriteDword(_consoleSlot, 0x10, 0xFFFF_FFFF);
        WriteDword(_consoleSlot, 0x14, 0xFFFF_FFFF);
        var lo = ReadDword(_consoleSlot, 0x10);
        var hi = ReadDword(_consoleSlot, 0x14);
        WriteDword(_consoleSlot, 0x10, (uint)BarAddress);
        WriteDword(_consoleSlot, 0x14, 0);

        var mask = ((ulong)hi << 32) | (lo & 0xFFFF_FFF0);
        Assert.Equal(0x4u, lo & 0xF);
        Assert.Equal(VirtioPciLayout.BarSize, ~mask + 1);
        Assert.Equal(BarAddress, _console.BarAddress);
    }

    [Fact]
    public void Capability_walk_should_find_the_four_virtio_structures_in_bar_0()
    {
        var status = ReadDword(_consoleSlot, 0x04) >> 16;
        var pointer = (int)(ReadDword(_consoleSlot, 0x34) & 0xFC);
        var found = new Dictionary<byte, (uint Offset, uint Length)>();
        var seen = 0;
        while (pointer != 0 && seen++ < 48)
        {
            var head = ReadDword(_consoleSlot, pointer);
            Assert.Equal(0x09u, head & 0xFF);
            var type = (byte)(head >> 24);
            var bar = ReadDword(_consoleSlot, pointer + 4) & 0xFF;
            Assert.Equal(0u, bar);
            found[type] = (ReadDword(_consoleSlot, pointer + 8), ReadDword(_consoleSlot, pointer + 12));
            if (type == VirtioPciLayout.NotifyCfg)
            {
                Assert.Equal(20u, (head >> 16) & 0xFF);
                Assert.Equal(VirtioPciLayout.NotifyOffMultiplier, ReadDword(_consoleSlot, pointer + 16));
            }

            pointer = (int)((head >> 8) & 0xFC);
        }

        Assert.NotEqual(0u, status & PciConfiguration.StatusCapabilitiesList);
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, found.Keys.Order().ToArray());
        Assert.Equal((0x0u, 0x38u), found[VirtioPciLayout.CommonCfg]);
        Assert.Equal((0x3000u, 8u), found[VirtioPciLayout.NotifyCfg]);
        Assert.Equal((0x1000u, 1u), found[VirtioPciLayout.IsrCfg]);
        Assert.Equal((0x2000u, 12u), found[VirtioPciLayout.DeviceCfg]);
    }

    [Fact]
    public void Interrupt_pin_and_line_should_be_reported_and_routed()
    {
        var reg = ReadDword(_consoleSlot, 0x3C);

        Assert.Equal(11u, reg & 0xFF);
        Assert.Equal(1u, (reg >> 8) & 0xFF);
        Assert.Equal([new PciInterruptRoute(_consoleSlot, 1, 11)], _root.InterruptRoutes);
    }

    [Fact]
    public void Garbage_port_accesses_should_never_throw_or_change_identity()
    {
        var random = new Random(42);
        var buffer = new byte[8];
        for (var i = 0; i < 20000; i++)
        {
            var length = random.Next(0, 9);
            var offset = (ulong)random.Next(0, 12);
            random.NextBytes(buffer);
            if (random.Next(2) == 0)
            {
                _io.Write(offset, buffer.AsSpan(0, length));
            }
            else
            {
                _io.Read(offset, buffer.AsSpan(0, length));
            }
        }

        Assert.Equal(0x1043_1AF4u, ReadDword(_consoleSlot, 0));
        Assert.Equal(0x0d57_8086u, ReadDword(0, 0));
        Assert.True(_io.Stats.BadSizeAccesses > 0);
    }

    private void SetAddress(int device, int register, int bus = 0, int function = 0)
    {
        Span<byte> addr = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(addr,
            0x8000_0000u | ((uint)bus << 16) | ((uint)device << 11) | ((uint)function << 8) | (uint)register);
        _io.Write(0, addr);
    }

    private uint ReadDword(int device, int register, int bus = 0, int function = 0)
    {
        SetAddress(device, register, bus, function);
        Span<byte> data = stackalloc byte[4];
        _io.Read(4, data);
        return BinaryPrimitives.ReadUInt32LittleEndian(data);
    }

    private void WriteDword(int device, int register, uint value)
    {
        SetAddress(device, register);
        Span<byte> data = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(data, value);
        _io.Write(4, data);
    }
}
