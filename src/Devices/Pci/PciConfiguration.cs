using System.Buffers.Binary;

namespace ActorVmm.Devices.Pci;

/// <summary>
/// A type-0 PCI configuration space: 256 bytes with a per-byte writable mask, BARs that answer the sizing probe
/// (write all-ones, read back the size mask), a capability list and the interrupt line / pin.
/// Not thread-safe: the owning device serialises access.
/// </summary>
/// <remarks>
/// When a BAR's registers settle on a new address (none holds the all-ones probe), <see cref="BarMoved"/> fires and
/// <see cref="GetBarAddress"/> reports it; the bus owner then remaps the region and its ioeventfds. A 64-bit BAR
/// moved across 4 GiB reports an intermediate address after the low half is written, then the final one.
/// </remarks>
public sealed class PciConfiguration
{
    public const int Size = 256;

    public const int VendorIdOffset = 0x00;
    public const int DeviceIdOffset = 0x02;
    public const int CommandOffset = 0x04;
    public const int StatusOffset = 0x06;
    public const int RevisionOffset = 0x08;
    public const int ClassCodeOffset = 0x09;
    public const int HeaderTypeOffset = 0x0E;
    public const int Bar0Offset = 0x10;
    public const int SubsystemVendorIdOffset = 0x2C;
    public const int SubsystemIdOffset = 0x2E;
    public const int CapabilitiesPointerOffset = 0x34;
    public const int InterruptLineOffset = 0x3C;
    public const int InterruptPinOffset = 0x3D;

    public const ushort CommandIoSpace = 1;
    public const ushort CommandMemorySpace = 2;
    public const ushort CommandBusMaster = 4;
    public const ushort CommandInterruptDisable = 0x400;

    public const ushort StatusInterrupt = 0x08;
    public const ushort StatusCapabilitiesList = 0x10;

    private const int FirstCapabilityOffset = 0x40;

    private readonly byte[] _data = new byte[Size];
    private readonly byte[] _writable = new byte[Size];
    private readonly PciBar?[] _bars = new PciBar?[6];
    private readonly int[] _barOwner = [-1, -1, -1, -1, -1, -1];
    private readonly bool[] _probing = new bool[6];
    private int _nextCapability = FirstCapabilityOffset;
    private int _lastCapability;

    /// <param name="classCode">class &lt;&lt; 16 | subclass &lt;&lt; 8 | prog-if.</param>
    public PciConfiguration(
        ushort vendorId,
        ushort deviceId,
        uint classCode,
        byte revision = 0,
        ushort subsystemVendorId = 0,
        ushort subsystemId = 0,
        byte headerType = 0)
    {
        Put16(VendorIdOffset, vendorId);
        Put16(DeviceIdOffset, deviceId);
        _data[RevisionOffset] = revision;
        _data[ClassCodeOffset] = (byte)classCode;
        _data[ClassCodeOffset + 1] = (byte)(classCode >> 8);
        _data[ClassCodeOffset + 2] = (byte)(classCode >> 16);
        _data[HeaderTypeOffset] = headerType;
        Put16(SubsystemVendorIdOffset, subsystemVendorId);
        Put16(SubsystemIdOffset, subsystemId);

        // Command: I/O, memory, bus master, parity, SERR, INTx disable. Cache line size, latency timer, line.
        _writable[CommandOffset] = 0x47;
        _writable[CommandOffset + 1] = 0x05;
        _writable[0x0C] = 0xFF;
        _writable[0x0D] = 0xFF;
        _writable[InterruptLineOffset] = 0xFF;
    }

    /// <summary>Fires when the guest programs a BAR to a new address (see remarks).</summary>
    public event Action<PciBarMovedEventArgs>? BarMoved;

    public ushort VendorId => Get16(VendorIdOffset);

    public ushort DeviceId => Get16(DeviceIdOffset);

    public ushort Command => Get16(CommandOffset);

    public bool MemorySpaceEnabled => (Command & CommandMemorySpace) != 0;

    public bool InterruptDisabled => (Command & CommandInterruptDisable) != 0;

    public byte InterruptLine
    {
        get => _data[InterruptLineOffset];
        set => _data[InterruptLineOffset] = value;
    }

    /// <summary>0 = none, 1 = INTA# .. 4 = INTD#. Read-only to the guest.</summary>
    public byte InterruptPin
    {
        get => _data[InterruptPinOffset];
        set
        {
            if (value > 4)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "interrupt pin is 0..4");
            }

            _data[InterruptPinOffset] = value;
        }
    }

    /// <summary>Status bit 3 (interrupt status), driven by the device's INTx state.</summary>
    public bool InterruptStatus
    {
        get => (Get16(StatusOffset) & StatusInterrupt) != 0;
        set => Put16(StatusOffset, (ushort)(value ? Get16(StatusOffset) | StatusInterrupt : Get16(StatusOffset) & ~StatusInterrupt));
    }

    /// <summary>Declares a BAR at its VMM-assigned address.</summary>
    public void AddBar(PciBar bar)
    {
        ArgumentNullException.ThrowIfNull(bar);
        var slots = bar.Kind == PciBarKind.Memory64 ? 2 : 1;
        if (bar.Index < 0 || bar.Index + slots > 6)
        {
            throw new ArgumentOutOfRangeException(nameof(bar), bar.Index, "BAR index out of range");
        }

        var minSize = bar.Kind == PciBarKind.Io ? 4UL : 16UL;
        if (bar.Size < minSize || (bar.Size & (bar.Size - 1)) != 0 || (bar.Address & (bar.Size - 1)) != 0
            || (bar.Kind == PciBarKind.Memory32 && bar.Address + bar.Size > 0x1_0000_0000UL)
            || (bar.Kind == PciBarKind.Io && (bar.Size > 0x100 || bar.Address + bar.Size > 0x10000)))
        {
            throw new ArgumentException($"BAR {bar.Index} at 0x{bar.Address:x} of 0x{bar.Size:x} bytes is not valid", nameof(bar));
        }

        for (var i = bar.Index; i < bar.Index + slots; i++)
        {
            if (_barOwner[i] >= 0)
            {
                throw new ArgumentException($"BAR register {i} is already in use", nameof(bar));
            }
        }

        _bars[bar.Index] = bar;
        for (var i = bar.Index; i < bar.Index + slots; i++)
        {
            _barOwner[i] = bar.Index;
        }

        StoreBarAddress(bar, bar.Address);
    }

    /// <summary>Where BAR <paramref name="index"/> currently decodes (the VMM's address until the guest moves it).</summary>
    public ulong GetBarAddress(int index) =>
        _bars[index]?.Address ?? throw new ArgumentOutOfRangeException(nameof(index), index, "no such BAR");

    /// <summary>
    /// Appends a capability (its first byte is the capability id; the next-pointer byte is filled in) and
    /// returns its offset (dword-aligned). Capabilities are read-only to the guest.
    /// </summary>
    public int AddCapability(ReadOnlySpan<byte> capability) => AddCapability(capability, []);

    /// <summary>
    /// Appends a capability whose bits set in <paramref name="writableMask"/> (same layout, may be shorter) the guest
    /// can write (e.g. the MSI-X enable and function-mask bits); the id and next-pointer bytes stay read-only.
    /// Returns its offset (dword-aligned).
    /// </summary>
    public int AddCapability(ReadOnlySpan<byte> capability, ReadOnlySpan<byte> writableMask)
    {
        if (capability.Length < 2 || _nextCapability + capability.Length > Size)
        {
            throw new ArgumentException("capability does not fit in configuration space", nameof(capability));
        }

        if (writableMask.Length > capability.Length)
        {
            throw new ArgumentException("the writable mask is longer than the capability", nameof(writableMask));
        }

        var offset = _nextCapability;
        capability.CopyTo(_data.AsSpan(offset));
        _data[offset + 1] = 0;
        for (var i = 2; i < writableMask.Length; i++)
        {
            _writable[offset + i] = writableMask[i];
        }

        if (_lastCapability == 0)
        {
            _data[CapabilitiesPointerOffset] = (byte)offset;
            Put16(StatusOffset, (ushort)(Get16(StatusOffset) | StatusCapabilitiesList));
        }
        else
        {
            _data[_lastCapability + 1] = (byte)offset;
        }

        _lastCapability = offset;
        _nextCapability = (offset + capability.Length + 3) & ~3;
        return offset;
    }

    /// <summary>The 16-bit value at <paramref name="offset"/> (0..254).</summary>
    public ushort ReadWord(int offset) => Get16(offset);

    /// <summary>Dword register <paramref name="index"/> (0..63).</summary>
    public uint ReadRegister(int index) => BinaryPrimitives.ReadUInt32LittleEndian(_data.AsSpan(index * 4, 4));

    /// <summary>Reads 1, 2 or 4 bytes inside one dword; anything else reads all-ones.</summary>
    public void Read(int offset, Span<byte> data)
    {
        if (!IsValidAccess(offset, data.Length))
        {
            data.Fill(0xFF);
            return;
        }

        _data.AsSpan(offset, data.Length).CopyTo(data);
    }

    /// <summary>Writes 1, 2 or 4 bytes inside one dword through the writable mask; returns false when ignored.</summary>
    public bool Write(int offset, ReadOnlySpan<byte> data)
    {
        if (!IsValidAccess(offset, data.Length))
        {
            return false;
        }

        var register = offset / 4;
        if (register >= Bar0Offset / 4 && register < (Bar0Offset / 4) + 6)
        {
            Span<byte> merged = stackalloc byte[4];
            _data.AsSpan(register * 4, 4).CopyTo(merged);
            data.CopyTo(merged[(offset % 4)..]);
            WriteBarRegister(register - (Bar0Offset / 4), BinaryPrimitives.ReadUInt32LittleEndian(merged));
            return true;
        }

        for (var i = 0; i < data.Length; i++)
        {
            var mask = _writable[offset + i];
            _data[offset + i] = (byte)((_data[offset + i] & ~mask) | (data[i] & mask));
        }

        return true;
    }

    /// <summary>A copy of the 256 bytes (for save/restore).</summary>
    public byte[] SaveState() => (byte[])_data.Clone();

    /// <summary>Brings back saved bytes; BAR addresses follow the saved registers without raising events.</summary>
    public void RestoreState(byte[] state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Length != Size)
        {
            throw new ArgumentException("PCI configuration state must be 256 bytes", nameof(state));
        }

        state.CopyTo(_data, 0);
        Array.Clear(_probing);
        foreach (var bar in _bars.ToArray())
        {
            if (bar is not null)
            {
                _bars[bar.Index] = bar with { Address = DecodeBarAddress(bar) };
            }
        }
    }

    private static bool IsValidAccess(int offset, int length) =>
        offset >= 0 && offset < Size && length is 1 or 2 or 4 && (offset % 4) + length <= 4;

    private void WriteBarRegister(int slot, uint value)
    {
        var owner = _barOwner[slot];
        if (owner < 0)
        {
            return;
        }

        var bar = _bars[owner]!;
        _probing[slot] = value == 0xFFFF_FFFF;
        uint stored;
        if (slot == bar.Index)
        {
            stored = (value & LowMask(bar)) | TypeBits(bar);
        }
        else
        {
            stored = value & (uint)(~(bar.Size - 1) >> 32);
        }

        BinaryPrimitives.WriteUInt32LittleEndian(_data.AsSpan(Bar0Offset + (slot * 4), 4), stored);

        if (_probing[bar.Index] || (bar.Kind == PciBarKind.Memory64 && _probing[bar.Index + 1]))
        {
            return;
        }

        var address = DecodeBarAddress(bar);
        if (address != bar.Address)
        {
            _bars[owner] = bar with { Address = address };
            BarMoved?.Invoke(new PciBarMovedEventArgs(bar.Index, bar.Address, address, bar.Size));
        }
    }

    private ulong DecodeBarAddress(PciBar bar)
    {
        var lo = ReadRegister((Bar0Offset / 4) + bar.Index) & LowMask(bar);
        ulong address = lo;
        if (bar.Kind == PciBarKind.Memory64)
        {
            address |= (ulong)ReadRegister((Bar0Offset / 4) + bar.Index + 1) << 32;
        }

        return address;
    }

    private void StoreBarAddress(PciBar bar, ulong address)
    {
        var lo = ((uint)address & LowMask(bar)) | TypeBits(bar);
        BinaryPrimitives.WriteUInt32LittleEndian(_data.AsSpan(Bar0Offset + (bar.Index * 4), 4), lo);
        if (bar.Kind == PciBarKind.Memory64)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(_data.AsSpan(Bar0Offset + ((bar.Index + 1) * 4), 4), (uint)(address >> 32));
        }
    }

    private static uint LowMask(PciBar bar) =>
        (uint)~(bar.Size - 1) & (bar.Kind == PciBarKind.Io ? 0xFFFF_FFFCu : 0xFFFF_FFF0u);

    private static uint TypeBits(PciBar bar) => bar.Kind switch
    {
        PciBarKind.Io => 1u,
        PciBarKind.Memory64 => 0x4u | (bar.Prefetchable ? 0x8u : 0u),
        _ => bar.Prefetchable ? 0x8u : 0u,
    };

    private ushort Get16(int offset) => BinaryPrimitives.ReadUInt16LittleEndian(_data.AsSpan(offset, 2));

    private void Put16(int offset, ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(_data.AsSpan(offset, 2), value);
}
