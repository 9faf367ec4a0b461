using System.Buffers.Binary;
using ActorVmm.Devices.Pci;
using ActorVmm.Kvm.Memory;

namespace ActorVmm.Devices.Virtio;

/// <summary>
/// The virtio-pci common configuration structure (virtio 1.x 4.1.4.3): feature selects and words, MSI-X vector
/// mapping, device status, config generation and the selected queue's registers. Not thread-safe: the transport
/// calls it under its lock. Guest mistakes are counted, never thrown; what a status write asks of the transport
/// (reset, activation) comes back as a <see cref="VirtioStatusChange"/>.
/// </summary>
internal sealed class VirtioPciCommonConfig
{
    private readonly IVirtioDevice _device;
    private readonly GuestMemory _memory;
    private readonly Virtqueue[] _queues;
    private readonly ushort[] _queueVectors;
    private readonly MsixCapability? _msix;
    private readonly DeviceStats _stats;
    private uint _deviceFeatureSelect;
    private uint _driverFeatureSelect;
    private ulong _driverFeatures;
    private byte _status;
    private byte _configGeneration;
    private ushort _queueSelect;
    private ushort _configVector = VirtioPciLayout.NoVector;

    public VirtioPciCommonConfig(IVirtioDevice device, GuestMemory memory, Virtqueue[] queues, MsixCapability? msix, DeviceStats stats)
    {
        _device = device;
        _memory = memory;
        _queues = queues;
        _msix = msix;
        _stats = stats;
        _queueVectors = new ushort[queues.Length];
        Array.Fill(_queueVectors, VirtioPciLayout.NoVector);
    }

    public byte Status => _status;

    public ulong DriverFeatures => _driverFeatures;

    public bool DriverOk => (_status & (byte)VirtioDeviceStatus.DriverOk) != 0;

    /// <summary>The configuration change vector (NO_VECTOR when unmapped).</summary>
    public ushort ConfigVector => _configVector;

    /// <summary>Queue <paramref name="index"/>'s MSI-X vector (NO_VECTOR when unmapped).</summary>
    public ushort QueueVector(int index) => _queueVectors[index];

    private Virtqueue? SelectedQueue => _queueSelect < _queues.Length ? _queues[_queueSelect] : null;

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
                _deviceFeatureSelect = (uint)value;
                break;
            case (0x08, 4):
                _driverFeatureSelect = (uint)value;
                break;
            case (0x0C, 4):
                WriteDriverFeatures((uint)value);
                break;
            case (0x10, 2):
                // A vector the table does not have reads back NO_VECTOR, which tells the driver the mapping failed.
                _configVector = MapVector((ushort)value);
                break;
            case (0x1A, 2):
                if (SelectedQueue is null)
                {
                    _stats.CountGuestError();
                    break;
                }

                _queueVectors[_queueSelect] = MapVector((ushort)value);
                break;
            case (0x14, 1):
                return WriteStatus((byte)value);
            case (0x16, 2):
                _queueSelect = (ushort)value;
                break;
            case (0x18, 2):
                WriteQueue(q => q.Size = (ushort)value);
                break;
            case (0x1C, 2):
                EnableQueue((ushort)value);
                break;
            case (0x20, 4) or (0x24, 4) or (0x20, 8):
                WriteQueue(q => q.DescTable = new GuestAddress(Merge(q.DescTable.Value, offset - 0x20, value, length)));
                break;
            case (0x28, 4) or (0x2C, 4) or (0x28, 8):
                WriteQueue(q => q.AvailRing = new GuestAddress(Merge(q.AvailRing.Value, offset - 0x28, value, length)));
                break;
            case (0x30, 4) or (0x34, 4) or (0x30, 8):
                WriteQueue(q => q.UsedRing = new GuestAddress(Merge(q.UsedRing.Value, offset - 0x30, value, length)));
                break;
            default:
                _stats.CountUnhandledWrite();
                break;
        }

        return VirtioStatusChange.None;
    }

    /// <summary>
    /// Sets DEVICE_NEEDS_RESET. True when the driver must be told (it is up and the bit was clear): the config
    /// generation has then moved on and the caller signals a configuration change.
    /// </summary>
    public bool MarkNeedsReset()
    {
        if ((_status & (byte)VirtioDeviceStatus.DeviceNeedsReset) != 0)
        {
            return false;
        }

        _status |= (byte)VirtioDeviceStatus.DeviceNeedsReset;
        if (!DriverOk)
        {
            return false;
        }

        _configGeneration++;
        return true;
    }

    /// <summary>The device changed its configuration: the driver sees a new generation.</summary>
    public void NextGeneration() => _configGeneration++;

    /// <summary>Device reset (status 0): registers and vector mappings, not the config generation.</summary>
    public void Reset()
    {
        _deviceFeatureSelect = 0;
        _driverFeatureSelect = 0;
        _driverFeatures = 0;
        _status = 0;
        _queueSelect = 0;
        _configVector = VirtioPciLayout.NoVector;
        Array.Fill(_queueVectors, VirtioPciLayout.NoVector);
    }

    /// <summary>Power-on: a device reset and generation 0.</summary>
    public void PowerOn()
    {
        Reset();
        _configGeneration = 0;
    }

    /// <summary>Fills the register part of a <see cref="VirtioPciState"/>.</summary>
    public VirtioPciState SaveInto(VirtioPciState state) => state with
    {
        DeviceFeatureSelect = _deviceFeatureSelect,
        DriverFeatureSelect = _driverFeatureSelect,
        DriverFeatures = _driverFeatures,
        Status = _status,
        ConfigGeneration = _configGeneration,
        QueueSelect = _queueSelect,
        ConfigVector = _configVector,
        QueueVectors = (ushort[])_queueVectors.Clone(),
    };

    /// <summary>Takes the registers from <paramref name="state"/>; vectors the table lacks become NO_VECTOR.</summary>
    public void Restore(VirtioPciState state)
    {
        _deviceFeatureSelect = state.DeviceFeatureSelect;
        _driverFeatureSelect = state.DriverFeatureSelect;
        _driverFeatures = state.DriverFeatures;
        _status = state.Status;
        _configGeneration = state.ConfigGeneration;
        _queueSelect = state.QueueSelect;
        for (var i = 0; i < _queueVectors.Length; i++)
        {
            _queueVectors[i] = state.QueueVectors is null ? VirtioPciLayout.NoVector : MapVector(state.QueueVectors[i]);
        }

        _configVector = MapVector(state.ConfigVector);
    }

    private void BuildImage(Span<byte> image)
    {
        image.Clear();
        var offered = _device.AvailableFeatures;
        BinaryPrimitives.WriteUInt32LittleEndian(image[0x00..], _deviceFeatureSelect);
        BinaryPrimitives.WriteUInt32LittleEndian(image[0x04..], FeatureWord(offered, _deviceFeatureSelect));
        BinaryPrimitives.WriteUInt32LittleEndian(image[0x08..], _driverFeatureSelect);
        BinaryPrimitives.WriteUInt32LittleEndian(image[0x0C..], FeatureWord(_driverFeatures, _driverFeatureSelect));
        BinaryPrimitives.WriteUInt16LittleEndian(image[0x10..], _configVector);
        BinaryPrimitives.WriteUInt16LittleEndian(image[0x12..], (ushort)_queues.Length);
        image[0x14] = _status;
        image[0x15] = _configGeneration;
        BinaryPrimitives.WriteUInt16LittleEndian(image[0x16..], _queueSelect);
        var q = SelectedQueue;
        if (q is null)
        {
            return;
        }

        var s = q.SaveState();
        BinaryPrimitives.WriteUInt16LittleEndian(image[0x18..], s.Size);
        BinaryPrimitives.WriteUInt16LittleEndian(image[0x1A..], _queueVectors[_queueSelect]);
        BinaryPrimitives.WriteUInt16LittleEndian(image[0x1C..], (ushort)(s.Ready ? 1 : 0));
        BinaryPrimitives.WriteUInt16LittleEndian(image[0x1E..], _queueSelect);
        BinaryPrimitives.WriteUInt64LittleEndian(image[0x20..], s.DescTable);
        BinaryPrimitives.WriteUInt64LittleEndian(image[0x28..], s.AvailRing);
        BinaryPrimitives.WriteUInt64LittleEndian(image[0x30..], s.UsedRing);
    }

    private static uint FeatureWord(ulong features, uint select) => select switch
    {
        0 => (uint)features,
        1 => (uint)(features >> 32),
        _ => 0,
    };

    private static ulong Merge(ulong current, ulong half, ulong value, int length) => length switch
    {
        8 => value,
        _ when half == 0 => (current & 0xFFFF_FFFF_0000_0000UL) | (uint)value,
        _ => (current & 0xFFFF_FFFFUL) | (value << 32),
    };

    private ushort MapVector(ushort vector) =>
        _msix is not null && vector < _msix.VectorCount ? vector : VirtioPciLayout.NoVector;

    private void WriteDriverFeatures(uint value)
    {
        if ((_status & (byte)VirtioDeviceStatus.FeaturesOk) != 0 || _driverFeatureSelect > 1)
        {
            _stats.CountGuestError();
            return;
        }

        _driverFeatures = _driverFeatureSelect == 0
            ? (_driverFeatures & 0xFFFF_FFFF_0000_0000UL) | value
            : (_driverFeatures & 0xFFFF_FFFFUL) | ((ulong)value << 32);
    }

    private void WriteQueue(Action<Virtqueue> change)
    {
        var q = SelectedQueue;
        if (q is null || q.Ready || DriverOk)
        {
            _stats.CountGuestError();
            return;
        }

        change(q);
    }

    private void EnableQueue(ushort value)
    {
        var q = SelectedQueue;
        if (q is null || q.Ready || value != 1 || (_status & (byte)VirtioDeviceStatus.FeaturesOk) == 0)
        {
            _stats.CountGuestError();
            return;
        }

        q.EventIdxEnabled = (_driverFeatures & VirtioFeatures.RingEventIdx) != 0;
        q.IndirectEnabled = (_driverFeatures & VirtioFeatures.RingIndirectDesc) != 0;
        if (!q.TrySetReady(_memory, out _))
        {
            _stats.CountGuestError();
        }
    }

    private VirtioStatusChange WriteStatus(byte value)
    {
        if (value == 0)
        {
            return VirtioStatusChange.Reset;
        }

        const byte needsReset = (byte)VirtioDeviceStatus.DeviceNeedsReset;
        if ((_status & ~needsReset & ~value) != 0)
        {
            // The driver must not clear status bits other than by writing 0.
            _stats.CountGuestError();
            return VirtioStatusChange.None;
        }

        var added = (byte)(value & ~_status & ~needsReset);
        if ((added & (byte)VirtioDeviceStatus.FeaturesOk) != 0 && !FeaturesAcceptable())
        {
            added &= unchecked((byte)~VirtioDeviceStatus.FeaturesOk);
        }

        const byte driverOk = (byte)VirtioDeviceStatus.DriverOk;
        if ((added & driverOk) != 0 && ((_status | added) & (byte)VirtioDeviceStatus.FeaturesOk) == 0)
        {
            _stats.CountGuestError();
            added &= unchecked((byte)~driverOk);
        }

        _status |= added;
        return (added & driverOk) != 0 ? VirtioStatusChange.DriverOk : VirtioStatusChange.None;
    }

    private bool FeaturesAcceptable() =>
        (_driverFeatures & ~_device.AvailableFeatures) == 0 && (_driverFeatures & VirtioFeatures.Version1) != 0;
}
