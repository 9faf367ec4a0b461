using System.Buffers.Binary;

namespace ActorVmm.Devices.Pci;

/// <summary>
/// PCI configuration mechanism #1 on I/O ports 0xCF8..0xCFF (map it at <see cref="ActorVmm.Kvm.Layout.PciConfigPort"/>
/// with <see cref="RangeSize"/> ports): offset 0 is the 32-bit CONFIG_ADDRESS register (dword accesses only),
/// offsets 4..7 the CONFIG_DATA window (1, 2 or 4 bytes inside the dword). Thread-safe.
/// </summary>
public sealed class PciConfigIo : IBusDevice
{
    public const int RangeSize = 8;

    private const uint EnableBit = 0x8000_0000;

    private readonly PciRoot _root;
    private readonly Lock _sync = new();
    private uint _address;

    public PciConfigIo(PciRoot root)
    {
        _root = root;
    }

    public string Name => "pci-config-io";

    public DeviceStats Stats { get; } = new();

    /// <summary>The current CONFIG_ADDRESS value.</summary>
    public uint Address
    {
        get
        {
            lock (_sync)
            {
                return _address;
            }
        }
    }

    public void Read(ulong offset, Span<byte> data)
    {
        Stats.CountRead();
        if (data.Length is not (1 or 2 or 4) || offset >= RangeSize)
        {
            Stats.CountBadSize();
            data.Fill(0xFF);
            return;
        }

        if (offset < 4)
        {
            if (offset == 0 && data.Length == 4)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(data, Address);
                return;
            }

            Stats.CountUnhandledRead();
            data.Fill(0xFF);
            return;
        }

        var within = (int)offset - 4;
        if (within + data.Length > 4 || !TryDecode(out var bus, out var device, out var function, out var register))
        {
            Stats.CountUnhandledRead();
            data.Fill(0xFF);
            return;
        }

        _root.ReadConfig(bus, device, function, register + within, data);
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        Stats.CountWrite();
        if (data.Length is not (1 or 2 or 4) || offset >= RangeSize)
        {
            Stats.CountBadSize();
            return;
        }

        if (offset < 4)
        {
            if (offset == 0 && data.Length == 4)
            {
                lock (_sync)
                {
                    _address = BinaryPrimitives.ReadUInt32LittleEndian(data) & 0x80FF_FFFC;
                }

                return;
            }

            Stats.CountUnhandledWrite();
            return;
        }

        var within = (int)offset - 4;
        if (within + data.Length > 4 || !TryDecode(out var bus, out var device, out var function, out var register))
        {
            Stats.CountUnhandledWrite();
            return;
        }

        _root.WriteConfig(bus, device, function, register + within, data);
    }

    private bool TryDecode(out int bus, out int device, out int function, out int register)
    {
        var address = Address;
        bus = (int)((address >> 16) & 0xFF);
        device = (int)((address >> 11) & 0x1F);
        function = (int)((address >> 8) & 0x7);
        register = (int)(address & 0xFC);
        return (address & EnableBit) != 0;
    }
}
