using ActorVmm.Kvm.Memory;

namespace ActorVmm.Devices.Virtio;

/// <summary>
/// The registers every virtio transport has, whatever their layout (virtio 1.x 4.1.4.3 for PCI, 4.2.2 for MMIO):
/// feature selects and words, device status, config generation, queue select, and the checks on writes to the
/// selected queue. Both <see cref="VirtioPciDevice"/> and <see cref="VirtioMmioDevice"/> keep theirs here, so a
/// driver's mistakes are refused the same way on either. Not thread-safe: the transport calls it under its gate.
/// Guest mistakes are counted, never thrown; what a status write asks of the transport comes back as a
/// <see cref="VirtioStatusChange"/>.
/// </summary>
internal sealed class VirtioRegisters
{
    private readonly IVirtioDevice _device;
    private readonly GuestMemory _memory;
    private readonly Virtqueue[] _queues;
    private readonly DeviceStats _stats;
    private uint _deviceFeatureSelect;
    private uint _driverFeatureSelect;
    private ulong _driverFeatures;
    private byte _status;
    private byte _configGeneration;
    private ushort _queueSelect;

    public VirtioRegisters(IVirtioDevice device, GuestMemory memory, Virtqueue[] queues, DeviceStats stats)
    {
        _device = device;
        _memory = memory;
        _queues = queues;
        _stats = stats;
    }

    public byte Status => _status;

    public ulong DriverFeatures => _driverFeatures;

    public bool DriverOk => (_status & (byte)VirtioDeviceStatus.DriverOk) != 0;

    public bool FeaturesOk => (_status & (byte)VirtioDeviceStatus.FeaturesOk) != 0;

    public byte ConfigGeneration => _configGeneration;

    public uint DeviceFeatureSelect
    {
        get => _deviceFeatureSelect;
        set => _deviceFeatureSelect = value;
    }

    public uint DriverFeatureSelect
    {
        get => _driverFeatureSelect;
        set => _driverFeatureSelect = value;
    }

    public ushort QueueSelect
    {
        get => _queueSelect;
        set => _queueSelect = value;
    }

    /// <summary>The queue QueueSelect names, or null when the device has no such queue.</summary>
    public Virtqueue? SelectedQueue => _queueSelect < _queues.Length ? _queues[_queueSelect] : null;

    /// <summary>The word of the device's features that DeviceFeatureSelect names (0 past bit 63).</summary>
    public uint DeviceFeatureWord => FeatureWord(_device.AvailableFeatures, _deviceFeatureSelect);

    /// <summary>The word of the driver's features that DriverFeatureSelect names (0 past bit 63).</summary>
    public uint DriverFeatureWord => FeatureWord(_driverFeatures, _driverFeatureSelect);

    /// <summary>The driver writes the selected word of its features; refused once FEATURES_OK is set.</summary>
    public void WriteDriverFeatures(uint value)
    {
        if (FeaturesOk || _driverFeatureSelect > 1)
        {
            _stats.CountGuestError();
            return;
        }

        _driverFeatures = _driverFeatureSelect == 0
            ? (_driverFeatures & 0xFFFF_FFFF_0000_0000UL) | value
            : (_driverFeatures & 0xFFFF_FFFFUL) | ((ulong)value << 32);
    }

    /// <summary>Changes the selected queue's size or ring addresses; refused once it is ready or the driver is up.</summary>
    public void WriteQueue(Action<Virtqueue> change)
    {
        var q = SelectedQueue;
        if (q is null || q.Ready || DriverOk)
        {
            _stats.CountGuestError();
            return;
        }

        change(q);
    }

    /// <summary>
    /// Makes the selected queue ready (the driver wrote 1 to queue_enable / QueueReady) after FEATURES_OK: its size
    /// and rings are validated against guest RAM here (<see cref="Virtqueue.TrySetReady"/>); a bad one stays off.
    /// </summary>
    public void EnableQueue(uint value)
    {
        var q = SelectedQueue;
        if (q is null || q.Ready || value != 1 || !FeaturesOk)
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

    /// <summary>A device_status write: what it asks of the transport (reset, activation), bits the driver may not set refused.</summary>
    public VirtioStatusChange WriteStatus(byte value)
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

    /// <summary>Device reset (status 0): everything but the config generation.</summary>
    public void Reset()
    {
        _deviceFeatureSelect = 0;
        _driverFeatureSelect = 0;
        _driverFeatures = 0;
        _status = 0;
        _queueSelect = 0;
    }

    /// <summary>Power-on: a device reset and generation 0.</summary>
    public void PowerOn()
    {
        Reset();
        _configGeneration = 0;
    }

    /// <summary>Fills the register part of a saved transport state.</summary>
    public VirtioPciState SaveInto(VirtioPciState state) => state with
    {
        DeviceFeatureSelect = _deviceFeatureSelect,
        DriverFeatureSelect = _driverFeatureSelect,
        DriverFeatures = _driverFeatures,
        Status = _status,
        ConfigGeneration = _configGeneration,
        QueueSelect = _queueSelect,
    };

    /// <summary>Takes the registers from a saved transport state.</summary>
    public void Restore(VirtioPciState state)
    {
        _deviceFeatureSelect = state.DeviceFeatureSelect;
        _driverFeatureSelect = state.DriverFeatureSelect;
        _driverFeatures = state.DriverFeatures;
        _status = state.Status;
        _configGeneration = state.ConfigGeneration;
        _queueSelect = state.QueueSelect;
    }

    private static uint FeatureWord(ulong features, uint select) => select switch
    {
        0 => (uint)features,
        1 => (uint)(features >> 32),
        _ => 0,
    };

    private bool FeaturesAcceptable() =>
        (_driverFeatures & ~_device.AvailableFeatures) == 0 && (_driverFeatures & VirtioFeatures.Version1) != 0;
}
