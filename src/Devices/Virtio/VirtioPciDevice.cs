using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using ActorVmm.Devices.Pci;
using ActorVmm.Kvm.Memory;

namespace ActorVmm.Devices.Virtio;

/// <summary>
/// The virtio 1.x modern PCI transport for one <see cref="IVirtioDevice"/>: PCI function 0x1AF4:0x1040+type with
/// its structures in one 64-bit memory BAR 0 of <see cref="VirtioPciLayout.BarSize"/> bytes (common config, ISR,
/// device config, notify) described by vendor capabilities. Interrupts: MSI-X when the transport was given
/// <see cref="IMsiInterrupts"/> and the guest enables it (table and PBA in BAR 0, <c>config_msix_vector</c> and
/// <c>queue_msix_vector</c> map the configuration and each queue to a vector; a vector outside the table reads back
/// NO_VECTOR), otherwise INTx: the line is high while ISR is non-zero and drops when the guest reads ISR. The PCI
/// config access capability (type 5) is not offered.
/// <para>
/// Map the <see cref="IBusDevice"/> side on the MMIO bus at <see cref="BarAddress"/> for <see cref="VirtioPciLayout.BarSize"/>
/// bytes, the <see cref="IPciDevice"/> side on a <see cref="PciRoot"/>. Queue notifications arrive either as MMIO
/// writes at <see cref="NotifyAddress"/> or, via an ioeventfd registered at that address, as <see cref="NotifyQueue"/>.
/// Thread-safe: all entry points serialise on one lock. Guest-caused faults (bad registers, rings, chains) are
/// counted, never thrown; a corrupt ring sets DEVICE_NEEDS_RESET. Exceptions a device model throws for host
/// reasons propagate to the caller (the supervising actor), whose restart can use <see cref="SaveState"/>.
/// </para>
/// </summary>
public sealed class VirtioPciDevice : IBusDevice, IPciDevice, IStatefulDevice, IFailStopDevice
{
    private readonly IVirtioDevice _device;
    private readonly GuestMemory _memory;
    private readonly IInterruptLine _interrupt;
    private readonly Virtqueue[] _queues;
    private readonly byte[] _initialConfiguration;
    private readonly Lock _sync = new();
    private readonly MsixCapability? _msix;
    private readonly ushort[] _queueVectors;
    private ushort _configVector = VirtioPciLayout.NoVector;
    private uint _deviceFeatureSelect;
    private uint _driverFeatureSelect;
    private ulong _driverFeatures;
    private byte _status;
    private byte _isr;
    private byte _configGeneration;
    private ushort _queueSelect;
    private bool _activated;
    private bool _lineLevel;
    private ulong _pendingNotifications;
    private bool _failStopped;

    /// <param name="name">Device name for logs (e.g. <c>disk0</c>).</param>
    /// <param name="device">The device model.</param>
    /// <param name="memory">Guest RAM the queues live in.</param>
    /// <param name="interrupt">The INTx line (level-triggered).</param>
    /// <param name="barAddress">Where BAR 0 is mapped; aligned to <see cref="VirtioPciLayout.BarSize"/> (use <see cref="PciBarAllocator"/>).</param>
    /// <param name="irq">The IRQ the INTA# pin is wired to (the interrupt line register; goes into the MP table).</param>
    /// <param name="limits">Descriptor chain bounds, default <see cref="VirtqueueLimits.Default"/>.</param>
    /// <param name="msi">MSI-X vectors (null: INTx only). The table gets min(their count, <see cref="VirtioPciLayout.MaxMsixVectors"/>) entries.</param>
    public VirtioPciDevice(
        string name,
        IVirtioDevice device,
        GuestMemory memory,
        IInterruptLine interrupt,
        ulong barAddress,
        byte irq,
        VirtqueueLimits? limits = null,
        IMsiInterrupts? msi = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(interrupt);
        if ((device.AvailableFeatures & VirtioFeatures.Version1) == 0)
        {
            throw new ArgumentException("a modern virtio device must offer VIRTIO_F_VERSION_1", nameof(device));
        }

        if (device.QueueCount is < 1 or > 64 || device.ConfigSize < 0
            || (ulong)device.ConfigSize > VirtioPciLayout.DeviceConfigMaxLength)
        {
            throw new ArgumentException("device has an unsupported queue count or config size", nameof(device));
        }

        Name = name;
        _device = device;
        _memory = memory;
        _interrupt = interrupt;
        _queues = Enumerable.Range(0, device.QueueCount).Select(_ => new Virtqueue(device.MaxQueueSize, limits)).ToArray();
        _queueVectors = new ushort[_queues.Length];
        Array.Fill(_queueVectors, VirtioPciLayout.NoVector);

        Configuration = new PciConfiguration(
            VirtioPciLayout.VendorId,
            (ushort)(VirtioPciLayout.DeviceIdBase + device.DeviceType),
            VirtioPciLayout.ClassCodeFor(device.DeviceType),
            revision: 1,
            subsystemVendorId: VirtioPciLayout.VendorId,
            subsystemId: VirtioPciLayout.SubsystemId);
        Configuration.AddBar(new PciBar(0, VirtioPciLayout.BarSize, PciBarKind.Memory64, barAddress));
        Configuration.InterruptPin = 1;
        Configuration.InterruptLine = irq;
        AddCapability(VirtioPciLayout.CommonCfg, VirtioPciLayout.CommonOffset, VirtioPciLayout.CommonLength);
        AddCapability(VirtioPciLayout.NotifyCfg, VirtioPciLayout.NotifyOffset,
            (ulong)device.QueueCount * VirtioPciLayout.NotifyOffMultiplier, VirtioPciLayout.NotifyOffMultiplier);
        AddCapability(VirtioPciLayout.IsrCfg, VirtioPciLayout.IsrOffset, VirtioPciLayout.IsrLength);
        if (device.ConfigSize > 0)
        {
            AddCapability(VirtioPciLayout.DeviceCfg, VirtioPciLayout.DeviceConfigOffset, (ulong)device.ConfigSize);
        }

        if (msi is { VectorCount: > 0 })
        {
            _msix = new MsixCapability(
                Configuration,
                Math.Min(msi.VectorCount, VirtioPciLayout.MaxMsixVectors),
                bar: 0,
                (uint)VirtioPciLayout.MsixTableOffset,
                (uint)VirtioPciLayout.MsixPbaOffset,
                msi,
                Stats);
        }

        _initialConfiguration = Configuration.SaveState();
    }

    public string Name { get; }

    public DeviceStats Stats { get; } = new();

    /// <summary>PCI configuration space; subscribe to <see cref="PciConfiguration.BarMoved"/> to follow guest BAR moves.</summary>
    public PciConfiguration Configuration { get; }

    public IVirtioDevice Device => _device;

    /// <summary>
    /// Where device-initiated work goes (console input arrived, rate limiter refilled, a queue still had buffers
    /// after the bounded passes of one notification). Null: processed at once on the calling thread under the lock
    /// (and a queue is served until it is empty). An actor sets this to post itself a message and later call
    /// <see cref="NotifyQueue"/> from its own thread.
    /// </summary>
    public Action<int>? QueueKickHandler { get; set; }

    /// <summary>Where BAR 0 decodes now (the VMM's address unless the guest moved it).</summary>
    public ulong BarAddress
    {
        get
        {
            lock (_sync)
            {
                return Configuration.GetBarAddress(0);
            }
        }
    }

    public int QueueCount => _queues.Length;

    /// <summary>The function's MSI-X, or null when it was built without <see cref="IMsiInterrupts"/>.</summary>
    public MsixCapability? Msix => _msix;

    /// <summary>True while the guest has MSI-X enabled (interrupts go through vectors, not INTx).</summary>
    public bool MsixEnabled
    {
        get
        {
            lock (_sync)
            {
                return _msix?.Enabled ?? false;
            }
        }
    }

    public byte Status
    {
        get
        {
            lock (_sync)
            {
                return _status;
            }
        }
    }

    public byte Isr
    {
        get
        {
            lock (_sync)
            {
                return _isr;
            }
        }
    }

    public ulong DriverFeatures
    {
        get
        {
            lock (_sync)
            {
                return _driverFeatures;
            }
        }
    }

    /// <summary>Guest-physical address whose write notifies queue <paramref name="queueIndex"/> (register an ioeventfd here).</summary>
    public ulong NotifyAddress(int queueIndex)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(queueIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(queueIndex, _queues.Length);
        return BarAddress + NotifyOffsetOf(queueIndex);
    }

    /// <summary>Offset of queue <paramref name="queueIndex"/>'s notify register inside BAR 0.</summary>
    public static ulong NotifyOffsetOf(int queueIndex) =>
        VirtioPciLayout.NotifyOffset + ((ulong)queueIndex * VirtioPciLayout.NotifyOffMultiplier);

    /// <summary>A copy of queue <paramref name="index"/>'s state (for diagnostics and tests).</summary>
    public VirtqueueState GetQueueState(int index)
    {
        lock (_sync)
        {
            return _queues[index].SaveState();
        }
    }

    /// <summary>Queue <paramref name="queueIndex"/> was notified (ioeventfd or MMIO): process what is available.</summary>
    // Hot path, once per request: no tier-0 code (see VirtioBlockDevice remarks).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void NotifyQueue(int queueIndex)
    {
        lock (_sync)
        {
            if (queueIndex < 0 || queueIndex >= _queues.Length)
            {
                Stats.CountGuestError();
                return;
            }

            if (!_activated)
            {
                // Buffers may be made available before DRIVER_OK; they are served on activation.
                _pendingNotifications |= 1UL << queueIndex;
                return;
            }

            ProcessQueueLocked(queueIndex);
        }
    }

    // Hot path, once per request: no tier-0 code (see VirtioBlockDevice remarks).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Read(ulong offset, Span<byte> data)
    {
        Stats.CountRead();
        if (data.Length is not (1 or 2 or 4 or 8))
        {
            Stats.CountBadSize();
            data.Fill(0xFF);
            return;
        }

        var length = (ulong)data.Length;
        lock (_sync)
        {
            if (InRange(offset, length, VirtioPciLayout.CommonOffset, VirtioPciLayout.CommonLength))
            {
                Span<byte> image = stackalloc byte[(int)VirtioPciLayout.CommonLength];
                BuildCommonImage(image);
                image.Slice((int)(offset - VirtioPciLayout.CommonOffset), data.Length).CopyTo(data);
            }
            else if (InRange(offset, length, VirtioPciLayout.IsrOffset, VirtioPciLayout.IsrLength))
            {
                data[0] = _isr;
                _isr = 0;
                UpdateLine();
            }
            else if (InRange(offset, length, VirtioPciLayout.DeviceConfigOffset, (ulong)_device.ConfigSize))
            {
                _device.ReadConfig(offset - VirtioPciLayout.DeviceConfigOffset, data);
            }
            else if (InRange(offset, length, VirtioPciLayout.NotifyOffset, (ulong)_queues.Length * VirtioPciLayout.NotifyOffMultiplier))
            {
                data.Clear();
            }
            else if (_msix is not null && InRange(offset, length, VirtioPciLayout.MsixTableOffset, _msix.TableLength))
            {
                _msix.ReadTable(offset - VirtioPciLayout.MsixTableOffset, data);
            }
            else if (_msix is not null && InRange(offset, length, VirtioPciLayout.MsixPbaOffset, _msix.PbaLength))
            {
                _msix.ReadPba(offset - VirtioPciLayout.MsixPbaOffset, data);
            }
            else
            {
                Stats.CountUnhandledRead();
                data.Fill(0xFF);
            }
        }
    }

    // Hot path, once per request: no tier-0 code (see VirtioBlockDevice remarks).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        Stats.CountWrite();
        if (data.Length is not (1 or 2 or 4 or 8))
        {
            Stats.CountBadSize();
            return;
        }

        var length = (ulong)data.Length;
        lock (_sync)
        {
            if (InRange(offset, length, VirtioPciLayout.CommonOffset, VirtioPciLayout.CommonLength))
            {
                WriteCommon(offset - VirtioPciLayout.CommonOffset, data);
            }
            else if (InRange(offset, length, VirtioPciLayout.DeviceConfigOffset, (ulong)_device.ConfigSize))
            {
                _device.WriteConfig(offset - VirtioPciLayout.DeviceConfigOffset, data);
            }
            else if (InRange(offset, length, VirtioPciLayout.NotifyOffset, (ulong)_queues.Length * VirtioPciLayout.NotifyOffMultiplier))
            {
                NotifyQueue((int)((offset - VirtioPciLayout.NotifyOffset) / VirtioPciLayout.NotifyOffMultiplier));
            }
            else if (_msix is not null && InRange(offset, length, VirtioPciLayout.MsixTableOffset, _msix.TableLength))
            {
                _msix.WriteTable(offset - VirtioPciLayout.MsixTableOffset, data);
            }
            else if (_msix is not null && InRange(offset, length, VirtioPciLayout.MsixPbaOffset, _msix.PbaLength))
            {
                _msix.WritePba();
            }
            else
            {
                Stats.CountUnhandledWrite();
            }
        }
    }

    public void ReadConfig(int offset, Span<byte> data)
    {
        lock (_sync)
        {
            Configuration.Read(offset, data);
        }
    }

    public void WriteConfig(int offset, ReadOnlySpan<byte> data)
    {
        lock (_sync)
        {
            if (!Configuration.Write(offset, data))
            {
                Stats.CountUnhandledWrite();
            }

            // MSI-X enable / function mask may have changed: pending vectors go out, INTx follows.
            _msix?.ConfigurationWritten();
            UpdateLine();
        }
    }

    public object SaveState()
    {
        lock (_sync)
        {
            return new VirtioPciState(
                Configuration.SaveState(),
                _deviceFeatureSelect,
                _driverFeatureSelect,
                _driverFeatures,
                _status,
                _isr,
                _configGeneration,
                _queueSelect,
                _activated,
                _queues.Select(q => q.SaveState()).ToArray(),
                _device.SaveDeviceState(),
                _msix?.SaveState(),
                _configVector,
                (ushort[])_queueVectors.Clone());
        }
    }

    /// <summary>
    /// Brings back a <see cref="VirtioPciState"/>: re-activates the model if the driver had, re-drives the INTx
    /// line from ISR, and serves every ready queue once (notifications may have been lost while restarting).
    /// </summary>
    public void RestoreState(object state)
    {
        if (state is not VirtioPciState s || s.Queues.Count != _queues.Length
            || (s.QueueVectors is not null && s.QueueVectors.Count != _queues.Length))
        {
            throw new ArgumentException("not a saved state of this virtio-pci device", nameof(state));
        }

        lock (_sync)
        {
            Configuration.RestoreState(s.PciConfiguration);
            _deviceFeatureSelect = s.DeviceFeatureSelect;
            _driverFeatureSelect = s.DriverFeatureSelect;
            _driverFeatures = s.DriverFeatures;
            _status = s.Status;
            _isr = s.Isr;
            _configGeneration = s.ConfigGeneration;
            _queueSelect = s.QueueSelect;
            for (var i = 0; i < _queues.Length; i++)
            {
                _queues[i].RestoreState(s.Queues[i]);
                _queueVectors[i] = s.QueueVectors is null ? VirtioPciLayout.NoVector : MapVector(s.QueueVectors[i]);
            }

            _configVector = MapVector(s.ConfigVector);
            if (_msix is not null && s.Msix is not null)
            {
                _msix.RestoreState(s.Msix);
            }
            else
            {
                _msix?.ConfigurationWritten();
            }

            _device.RestoreDeviceState(s.DeviceState);
            _activated = false;
            _pendingNotifications = 0;
            if (s.Activated)
            {
                Activate();
            }

            _lineLevel = false;
            UpdateLine();
            if (s.Activated)
            {
                // A crashed instance may have completed buffers and died before signalling them.
                for (var i = 0; i < _queues.Length; i++)
                {
                    if (_queues[i].HasUnsignalledUsed && _queues[i].NeedsNotification(_memory))
                    {
                        SignalQueue(i);
                    }
                }
            }
        }
    }

    /// <summary>True once <see cref="FailStop"/> ran: queues are no longer served.</summary>
    public bool IsFailStopped
    {
        get
        {
            lock (_sync)
            {
                return _failStopped;
            }
        }
    }

    /// <summary>
    /// The supervisor gave up on this device: set DEVICE_NEEDS_RESET (with a configuration interrupt once the driver
    /// is up) and stop serving queues for good. Registers keep working (the driver can read the status and ISR and
    /// drop the line); a driver reset does not revive the device.
    /// </summary>
    public void FailStop()
    {
        lock (_sync)
        {
            _failStopped = true;
            SetNeedsReset();
        }
    }

    /// <summary>Power-on state: device reset plus the PCI configuration space as the VMM built it.</summary>
    public void Reset()
    {
        lock (_sync)
        {
            ResetLocked();
            Configuration.RestoreState(_initialConfiguration);
            _msix?.Reset();
            _configGeneration = 0;
            UpdateLine();
        }
    }

    /// <summary>Passes over a queue per notification before the rest is left to <see cref="QueueKickHandler"/>.</summary>
    private const int MaxRounds = 4;

    private static bool InRange(ulong offset, ulong length, ulong start, ulong size) =>
        offset >= start && offset - start < size && length <= size - (offset - start);

    private void AddCapability(byte type, ulong offset, ulong length, uint? notifyMultiplier = null)
    {
        Span<byte> cap = stackalloc byte[notifyMultiplier is null ? 16 : 20];
        cap.Clear();
        cap[0] = VirtioPciLayout.CapabilityId;
        cap[2] = (byte)cap.Length;
        cap[3] = type;
        cap[4] = 0;
        BinaryPrimitives.WriteUInt32LittleEndian(cap[8..], (uint)offset);
        BinaryPrimitives.WriteUInt32LittleEndian(cap[12..], (uint)length);
        if (notifyMultiplier is { } m)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(cap[16..], m);
        }

        Configuration.AddCapability(cap);
    }

    private Virtqueue? SelectedQueue => _queueSelect < _queues.Length ? _queues[_queueSelect] : null;

    private void BuildCommonImage(Span<byte> image)
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

    private void WriteCommon(ulong offset, ReadOnlySpan<byte> data)
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
                return;
            case (0x08, 4):
                _driverFeatureSelect = (uint)value;
                return;
            case (0x0C, 4):
                WriteDriverFeatures((uint)value);
                return;
            case (0x10, 2):
                // A vector the table does not have reads back NO_VECTOR, which tells the driver the mapping failed.
                _configVector = MapVector((ushort)value);
                return;
            case (0x1A, 2):
                if (SelectedQueue is null)
                {
                    Stats.CountGuestError();
                    return;
                }

                _queueVectors[_queueSelect] = MapVector((ushort)value);
                return;
            case (0x14, 1):
                WriteStatus((byte)value);
                return;
            case (0x16, 2):
                _queueSelect = (ushort)value;
                return;
            case (0x18, 2):
                WriteQueue(q => q.Size = (ushort)value);
                return;
            case (0x1C, 2):
                EnableQueue((ushort)value);
                return;
            case (0x20, 4) or (0x24, 4) or (0x20, 8):
                WriteQueue(q => q.DescTable = new GuestAddress(Merge(q.DescTable.Value, offset - 0x20, value, length)));
                return;
            case (0x28, 4) or (0x2C, 4) or (0x28, 8):
                WriteQueue(q => q.AvailRing = new GuestAddress(Merge(q.AvailRing.Value, offset - 0x28, value, length)));
                return;
            case (0x30, 4) or (0x34, 4) or (0x30, 8):
                WriteQueue(q => q.UsedRing = new GuestAddress(Merge(q.UsedRing.Value, offset - 0x30, value, length)));
                return;
            default:
                Stats.CountUnhandledWrite();
                return;
        }
    }

    private ushort MapVector(ushort vector) =>
        _msix is not null && vector < _msix.VectorCount ? vector : VirtioPciLayout.NoVector;

    private static ulong Merge(ulong current, ulong half, ulong value, int length) => length switch
    {
        8 => value,
        _ when half == 0 => (current & 0xFFFF_FFFF_0000_0000UL) | (uint)value,
        _ => (current & 0xFFFF_FFFFUL) | (value << 32),
    };

    private void WriteDriverFeatures(uint value)
    {
        if ((_status & (byte)VirtioDeviceStatus.FeaturesOk) != 0 || _driverFeatureSelect > 1)
        {
            Stats.CountGuestError();
            return;
        }

        _driverFeatures = _driverFeatureSelect == 0
            ? (_driverFeatures & 0xFFFF_FFFF_0000_0000UL) | value
            : (_driverFeatures & 0xFFFF_FFFFUL) | ((ulong)value << 32);
    }

    private void WriteQueue(Action<Virtqueue> change)
    {
        var q = SelectedQueue;
        if (q is null || q.Ready || (_status & (byte)VirtioDeviceStatus.DriverOk) != 0)
        {
            Stats.CountGuestError();
            return;
        }

        change(q);
    }

    private void EnableQueue(ushort value)
    {
        var q = SelectedQueue;
        if (q is null || q.Ready || value != 1 || (_status & (byte)VirtioDeviceStatus.FeaturesOk) == 0)
        {
            Stats.CountGuestError();
            return;
        }

        q.EventIdxEnabled = (_driverFeatures & VirtioFeatures.RingEventIdx) != 0;
        q.IndirectEnabled = (_driverFeatures & VirtioFeatures.RingIndirectDesc) != 0;
        if (!q.TrySetReady(_memory, out _))
        {
            Stats.CountGuestError();
        }
    }

    private void WriteStatus(byte value)
    {
        if (value == 0)
        {
            ResetLocked();
            UpdateLine();
            return;
        }

        const byte needsReset = (byte)VirtioDeviceStatus.DeviceNeedsReset;
        if ((_status & ~needsReset & ~value) != 0)
        {
            // The driver must not clear status bits other than by writing 0.
            Stats.CountGuestError();
            return;
        }

        var added = (byte)(value & ~_status & ~needsReset);
        if ((added & (byte)VirtioDeviceStatus.FeaturesOk) != 0 && !FeaturesAcceptable())
        {
            added &= unchecked((byte)~VirtioDeviceStatus.FeaturesOk);
        }

        var driverOk = (byte)VirtioDeviceStatus.DriverOk;
        if ((added & driverOk) != 0 && ((_status | added) & (byte)VirtioDeviceStatus.FeaturesOk) == 0)
        {
            Stats.CountGuestError();
            added &= (byte)~driverOk;
        }

        _status |= added;
        if ((added & driverOk) != 0)
        {
            Activate();
        }
    }

    private bool FeaturesAcceptable() =>
        (_driverFeatures & ~_device.AvailableFeatures) == 0 && (_driverFeatures & VirtioFeatures.Version1) != 0;

    private void Activate()
    {
        var context = new VirtioContext(_memory, _driverFeatures, RequestProcessing, SignalConfigChanged);
        _device.Activate(context);
        _activated = true;
        // Serve whatever was made available before DRIVER_OK (or while a restarted actor was down).
        _pendingNotifications = 0;
        for (var i = 0; i < _queues.Length; i++)
        {
            if (_queues[i].Ready)
            {
                ProcessQueueLocked(i);
            }
        }
    }

    private void RequestProcessing(int queueIndex)
    {
        var handler = QueueKickHandler;
        if (handler is not null)
        {
            handler(queueIndex);
        }
        else
        {
            NotifyQueue(queueIndex);
        }
    }

    private void SignalConfigChanged()
    {
        lock (_sync)
        {
            _configGeneration++;
            SignalConfig();
        }
    }

    // Hot path, once per request: no tier-0 code (see VirtioBlockDevice remarks).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ProcessQueueLocked(int index)
    {
        var q = _queues[index];
        if (_failStopped)
        {
            return;
        }

        if (!q.Ready || q.Broken)
        {
            if (!q.Ready)
            {
                Stats.CountGuestError();
            }

            return;
        }

        var errorsBefore = q.GuestErrors;
        var more = false;
        try
        {
            // Bounded: a device does a bounded amount per call; look again a few times if the driver raced us.
            for (var round = 0; round < MaxRounds || QueueKickHandler is null; round++)
            {
                var popped = q.NextAvail;
                var added = _device.ProcessQueue(index, q, _memory);
                if (added && q.NeedsNotification(_memory))
                {
                    SignalQueue(index);
                }

                // Only while the device makes progress: buffers it leaves waiting (no console input yet, a rate
                // limit) are its own to ask for later (RequestProcessing); re-kicking for them would spin.
                more = !q.Broken && q.EnableNotification(_memory) && q.NextAvail != popped;
                if (!more)
                {
                    break;
                }
            }
        }
        catch (GuestMemoryException)
        {
            Stats.CountGuestError();
            SetNeedsReset();
        }

        for (var e = errorsBefore; e < q.GuestErrors; e++)
        {
            Stats.CountGuestError();
        }

        if (q.Broken)
        {
            SetNeedsReset();
        }
        else if (more)
        {
            // Out of rounds with buffers still available: the driver saw our old avail_event (or NO_NOTIFY) when it
            // added them, so no kick is coming for them. Without another pass they would wait forever — which
            // happens as soon as the driver answers each used-buffer interrupt before the next round (MSI-X: no
            // ISR read holds it back). The kick handler runs that pass later, on the device's own thread.
            QueueKickHandler?.Invoke(index);
        }
    }

    private void SetNeedsReset()
    {
        if ((_status & (byte)VirtioDeviceStatus.DeviceNeedsReset) != 0)
        {
            return;
        }

        _status |= (byte)VirtioDeviceStatus.DeviceNeedsReset;
        if ((_status & (byte)VirtioDeviceStatus.DriverOk) != 0)
        {
            _configGeneration++;
            SignalConfig();
        }
    }

    /// <summary>Used buffers on queue <paramref name="index"/>: its MSI-X vector (none if NO_VECTOR), else INTx.</summary>
    private void SignalQueue(int index)
    {
        if (_msix is { Enabled: true } msix)
        {
            var vector = _queueVectors[index];
            if (vector != VirtioPciLayout.NoVector)
            {
                msix.Notify(vector);
            }

            return;
        }

        RaiseInterrupt(VirtioPciLayout.IsrQueue);
    }

    /// <summary>A configuration change: ISR bit 1 is set either way (virtio 4.1.4.5), then the config vector or INTx.</summary>
    private void SignalConfig()
    {
        RaiseInterrupt(VirtioPciLayout.IsrConfig);
        if (_msix is { Enabled: true } msix && _configVector != VirtioPciLayout.NoVector)
        {
            msix.Notify(_configVector);
        }
    }

    private void RaiseInterrupt(byte bits)
    {
        _isr |= bits;
        UpdateLine();
    }

    /// <summary>INTx: high while ISR is non-zero, unless INTx is disabled or MSI-X is enabled.</summary>
    private void UpdateLine()
    {
        var intx = _isr != 0 && !(_msix?.Enabled ?? false);
        Configuration.InterruptStatus = intx;
        var level = intx && !Configuration.InterruptDisabled;
        if (level != _lineLevel)
        {
            _lineLevel = level;
            _interrupt.SetLevel(level);
        }
    }

    private void ResetLocked()
    {
        _device.Reset();
        foreach (var q in _queues)
        {
            q.Reset();
        }

        _deviceFeatureSelect = 0;
        _driverFeatureSelect = 0;
        _driverFeatures = 0;
        _status = 0;
        _isr = 0;
        _queueSelect = 0;
        _activated = false;
        _pendingNotifications = 0;
        _configVector = VirtioPciLayout.NoVector;
        Array.Fill(_queueVectors, VirtioPciLayout.NoVector);
    }
}
