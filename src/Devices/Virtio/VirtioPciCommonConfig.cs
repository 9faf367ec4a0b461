using System.Buffers.Binary;
using ActorVmm.Devices.Pci;
using ActorVmm.Kvm.Memory;

namespace ActorVmm.Devices.Virtio;

/// <summary>
/// The virtio-pci common configuration structure (virtio 1.x 4.1.4.3): the layout of the transport's registers
/// (<see cref="VirtioRegisters"/>, shared with virtio-mmio) plus the MSI-X vector mapping, which only PCI has.
/// Not thread-safe: the transport calls it under its lock. Guest mistakes are counted, never thrown; what a status
/// write asks of the transport (reset, activation) comes back as a <see cref="VirtioStatusChange"/>.
/// </summary>
internal sealed class VirtioPciCommonConfig
{
    private readonly VirtioRegisters _registers;
    private readonly Virtqueue[] _queues;
    private readonly ushort[] _queueVectors;
    private readonly MsixCapability? _msix;
    private readonly DeviceStats _stats;
    private ushort _configVector = VirtioPciLayout.NoVector;

    public VirtioPciCommonConfig(VirtioRegisters registers, Virtqueue[] queues, MsixCapability? msix, DeviceStats stats)
    {
        _registers = registers;
        _queues = queues;
        _msix = msix;
        _stats = stats;
        _queueVectors = new ushort[queues.Length];
        Array.Fill(_queueVectors, VirtioPciLayout.NoVector);
    }

    /// <summary>The configuration change vector (NO_VECTOR when unmapped).</summary>
    public ushort ConfigVector => _configVector;

    /// <summary>Queue <paramref name="index"/>'s MSI-X vector (NO_VECTOR when unmapped).</summary>
    public ushort QueueVector(int index) => _queueVectors[index];

    /// <summary>Reads <paramref name="data"/> at <paramref name="offset"/> inside the structure (already range-checked).</summary>
    public void Read(ulong offset, Span<byte> data)
    {
        Span<byte> image = stackalloc byte[(int)VirtioPciLayout.CommonLength];
        BuildImage(image);
        image.Slice((int)offset, data.Length).CopyTo(data);
    }

    /// <summary>Writes a register; a field written at the wrong width or offset counts as an unhandled write.</summary>
    public VirtioStatusChange Write(ulong offset, ReadOnlySpan<byte> data)
    {
        var value = data.Length switch
        {
            1 => data[0],
            2 => BinaryPrimitives.ReadUInt16LittleEndian(data),
            4 => BinaryPrimitives.ReadUInt32LittleEndian(data),
            _ => BinaryPrimitives.ReadUInt64LittleEndian(data),
        };

        var length = data.Length;
        switch (offset, length)
        {
            case (0x00, 4):
                _registers.DeviceFeatureSelect = (uint)value;
                break;
            case (0x08, 4):
                _registers.DriverFeatureSelect = (uint)value;
                break;
            case (0x0C, 4):
                _registers.WriteDriverFeatures((uint)value);
                break;
            case (0x10, 2):
                // A vector the table does not have reads back NO_VECTOR, which tells the driver the mapping failed.
                _configVector = MapVector((ushort)value);
                break;
            case (0x1A, 2):
                if (_registers.SelectedQueue is null)
                {
                    _stats.CountGuestError();
                    break;
                }

                _queueVectors[_registers.QueueSelect] = MapVector((ushort)value);
                break;
            case (0x14, 1):
                return _registers.WriteStatus((byte)value);
            case (0x16, 2):
                _registers.QueueSelect = (ushort)value;
                break;
            case (0x18, 2):
                _registers.WriteQueue(q => q.Size = (ushort)value);
                break;
            case (0x1C, 2):
                _registers.EnableQueue((ushort)value);
                break;
            case (0x20, 4) or (0x24, 4) or (0x20, 8):
                _registers.WriteQueue(q => q.DescTable = new GuestAddress(Merge(q.DescTable.Value, offset - 0x20, value, length)));
                break;
            case (0x28, 4) or (0x2C, 4) or (0x28, 8):
                _registers.WriteQueue(q => q.AvailRing = new GuestAddress(Merge(q.AvailRing.Value, offset - 0x28, value, length)));
                break;
            case (0x30, 4) or (0x34, 4) or (0x30, 8):
                _registers.WriteQueue(q => q.UsedRing = new GuestAddress(Merge(q.UsedRing.Value, offset - 0x30, value, length)));
                break;
            default:
                _stats.CountUnhandledWrite();
                break;
        }

        return VirtioStatusChange.None;
    }

    /// <summary>Device reset (status 0): the vector mappings (the registers are reset by the transport).</summary>
    public void Reset()
    {
        _configVector = VirtioPciLayout.NoVector;
        Array.Fill(_queueVectors, VirtioPciLayout.NoVector);
    }

    /// <summary>Fills the vector part of a <see cref="VirtioPciState"/>.</summary>
    public VirtioPciState SaveInto(VirtioPciState state) => state with
    {
        ConfigVector = _configVector,
        QueueVectors = (ushort[])_queueVectors.Clone(),
    };

    /// <summary>Takes the vectors from <paramref name="state"/>; vectors the table lacks become NO_VECTOR.</summary>
    public void Restore(VirtioPciState state)
    {
        for (var i = 0; i < _queueVectors.Length; i++)
        {
            _queueVectors[i] = state.QueueVectors is null ? VirtioPciLayout.NoVector : MapVector(state.QueueVectors[i]);
        }

        _configVector = MapVector(state.ConfigVector);
    }

    /// <summary>Offset of a 64-bit ring address half (0 low, 4 high) merged with what is there.</summary>
    internal static ulong Merge(ulong current, ulong half, ulong value, int length) => length switch
    {
        8 => value,
        _ when half == 0 => (current & 0xFFFF_FFFF_0000_0000UL) | (uint)value,
        _ => (current & 0xFFFF_FFFFUL) | (value << 32),
    };

    private void BuildImage(Span<byte> image)
    {
        image.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(image[0x00..], _registers.DeviceFeatureSelect);
        BinaryPrimitives.WriteUInt32LittleEndian(image[0x04..], _registers.DeviceFeatureWord);
        BinaryPrimitives.WriteUInt32LittleEndian(image[0x08..], _registers.DriverFeatureSelect);
        BinaryPrimitives.WriteUInt32LittleEndian(image[0x0C..], _registers.DriverFeatureWord);
        BinaryPrimitives.WriteUInt16LittleEndian(image[0x10..], _configVector);
        BinaryPrimitives.WriteUInt16LittleEndian(image[0x12..], (ushort)_queues.Length);
        image[0x14] = _registers.Status;
        image[0x15] = _registers.ConfigGeneration;
        BinaryPrimitives.WriteUInt16LittleEndian(image[0x16..], _registers.QueueSelect);
        var q = _registers.SelectedQueue;
        if (q is null)
        {
            return;
        }

        var s = q.SaveState();
        BinaryPrimitives.WriteUInt16LittleEndian(image[0x18..], s.Size);
        BinaryPrimitives.WriteUInt16LittleEndian(image[0x1A..], _queueVectors[_registers.QueueSelect]);
        BinaryPrimitives.WriteUInt16LittleEndian(image[0x1C..], (ushort)(s.Ready ? 1 : 0));
        BinaryPrimitives.WriteUInt16LittleEndian(image[0x1E..], _registers.QueueSelect);
        BinaryPrimitives.WriteUInt64LittleEndian(image[0x20..], s.DescTable);
        BinaryPrimitives.WriteUInt64LittleEndian(image[0x28..], s.AvailRing);
        BinaryPrimitives.WriteUInt64LittleEndian(image[0x30..], s.UsedRing);
    }

    private ushort MapVector(ushort vector) =>
        _msix is not null && vector < _msix.VectorCount ? vector : VirtioPciLayout.NoVector;
}
