using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using ActorVmm.Kvm.Memory;

namespace ActorVmm.Devices.Virtio;

/// <summary>
/// The virtio-mmio transport, version 2 (virtio 1.x "Virtio Over MMIO", 4.2) for one <see cref="IVirtioDevice"/>:
/// a <see cref="VirtioMmioLayout.WindowSize"/> register window with the device configuration at
/// <see cref="VirtioMmioLayout.Config"/>. Negotiation, queues, reset and restore are the shared
/// <see cref="VirtioTransport"/>'s, so a driver sees the same device over MMIO as over PCI.
/// <para>
/// Interrupts: one line, level-triggered, high while InterruptStatus is non-zero; InterruptACK clears the bits it
/// names and drops the line with the last. Level rather than Firecracker's edge because the line then follows the
/// register exactly, as ActorVmm's PCI INTx does (an irqfd with a resamplefd: KVM re-raises it after the guest's
/// EOI while a bit is still set): an interrupt raised between the driver's read of InterruptStatus and its ACK is
/// never lost, a line shared with other devices works (Linux requests it IRQF_SHARED), and after a supervised
/// restart or a snapshot restore the line is re-driven from the saved register alone.
/// </para>
/// <para>
/// Every register is 32 bits: any other width or an unaligned offset is counted as a bad access (reads give
/// all-ones), as is a register that does not exist or is write-only; the configuration takes 1, 2, 4 or 8 bytes
/// inside its size. Queue notifications are writes of the queue index to <see cref="VirtioMmioLayout.QueueNotify"/>
/// (the composition puts an ioeventfd there, datamatch on each index); a queue's size and rings are checked when
/// the driver sets QueueReady. Nothing the guest does throws.
/// </para>
/// </summary>
public sealed class VirtioMmioDevice : VirtioTransport
{
    private readonly IInterruptLine _line;
    private uint _interruptStatus;
    private bool _lineLevel;

    /// <param name="name">Device name for logs (e.g. <c>disk0</c>).</param>
    /// <param name="device">The device model (at most <see cref="VirtioMmioLayout.ConfigMaxLength"/> config bytes).</param>
    /// <param name="memory">Guest RAM the queues live in.</param>
    /// <param name="interrupt">The device's line (level-triggered).</param>
    /// <param name="limits">Descriptor chain bounds, default <see cref="VirtqueueLimits.Default"/>.</param>
    public VirtioMmioDevice(string name, IVirtioDevice device, GuestMemory memory, IInterruptLine interrupt, VirtqueueLimits? limits = null)
        : base(name, device, memory, limits, VirtioMmioLayout.ConfigMaxLength)
    {
        ArgumentNullException.ThrowIfNull(interrupt);
        _line = interrupt;
    }

    /// <summary>InterruptStatus: bit 0 used buffers, bit 1 configuration change.</summary>
    public uint InterruptStatus => _interruptStatus;

    /// <summary>Where a queue notification lands in the window (the value written is the queue index).</summary>
    public static ulong NotifyOffset => VirtioMmioLayout.QueueNotify;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Read(ulong offset, Span<byte> data)
    {
        Stats.CountRead();
        if (offset >= VirtioMmioLayout.Config)
        {
            ReadConfig(offset - VirtioMmioLayout.Config, data);
            return;
        }

        if (data.Length != 4 || (offset & 3) != 0)
        {
            Stats.CountBadSize();
            data.Fill(0xFF);
            return;
        }

        if (ReadRegister(offset) is not { } value)
        {
            Stats.CountUnhandledRead();
            value = uint.MaxValue;
        }

        BinaryPrimitives.WriteUInt32LittleEndian(data, value);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        Stats.CountWrite();
        if (offset >= VirtioMmioLayout.Config)
        {
            WriteConfig(offset - VirtioMmioLayout.Config, data);
            return;
        }

        if (data.Length != 4 || (offset & 3) != 0)
        {
            Stats.CountBadSize();
            return;
        }

        var value = BinaryPrimitives.ReadUInt32LittleEndian(data);
        switch (offset)
        {
            case VirtioMmioLayout.QueueNotify:
                // Any value: an index the device lacks counts as an unhandled write (NotifyQueue).
                NotifyQueue(value > int.MaxValue ? -1 : (int)value);
                return;
            case VirtioMmioLayout.InterruptAck:
                _interruptStatus &= ~value;
                UpdateInterruptLine();
                return;
        }

        if (ResetPending)
        {
            // The driver wrote 0 and waits for Status to read 0; nothing else is taken until then.
            Stats.CountGuestError();
            return;
        }

        WriteRegister(offset, value);
    }

    public override object SaveState()
    {
        var state = new VirtioPciState(
            PciConfiguration: [],
            DeviceFeatureSelect: 0,
            DriverFeatureSelect: 0,
            DriverFeatures: 0,
            Status: 0,
            Isr: (byte)_interruptStatus,
            ConfigGeneration: 0,
            QueueSelect: 0,
            Activated,
            Queues.Select(q => q.SaveState()).ToArray(),
            Device.SaveDeviceState());
        return Registers.SaveInto(state);
    }

    private protected override ulong NotifyRegisterOffset(int queue) => VirtioMmioLayout.QueueNotify;

    private protected override void SignalQueue(int index) => Raise(VirtioMmioLayout.InterruptUsedBuffer);

    private protected override void SignalConfig() => Raise(VirtioMmioLayout.InterruptConfigChange);

    private protected override void ResetTransport() => _interruptStatus = 0;

    private protected override void UpdateInterruptLine()
    {
        var level = _interruptStatus != 0;
        if (level != _lineLevel)
        {
            _lineLevel = level;
            _line.SetLevel(level);
        }
    }

    private protected override void ResyncInterruptLine()
    {
        _lineLevel = false;
        UpdateInterruptLine();
    }

    /// <summary>A state <see cref="SaveState"/> made: a <see cref="VirtioPciState"/> with no PCI configuration nor vectors (both transports keep the same registers).</summary>
    private protected override VirtioPciState CheckState(object state) =>
        state is VirtioPciState { PciConfiguration.Length: 0, QueueVectors: null, Msix: null } s
            ? s
            : throw new ArgumentException("not a saved state of this virtio-mmio device", nameof(state));

    private protected override void RestoreRegisters(VirtioPciState s)
    {
        Registers.Restore(s);
        _interruptStatus = s.Isr & (VirtioMmioLayout.InterruptUsedBuffer | VirtioMmioLayout.InterruptConfigChange);
    }

    private void Raise(uint bits)
    {
        _interruptStatus |= bits;
        UpdateInterruptLine();
    }

    /// <summary>A readable register's value; null for one that does not exist or is write-only.</summary>
    private uint? ReadRegister(ulong offset)
    {
        var queue = Registers.SelectedQueue;
        return offset switch
        {
            VirtioMmioLayout.MagicValue => VirtioMmioLayout.Magic,
            VirtioMmioLayout.VersionRegister => VirtioMmioLayout.Version,
            VirtioMmioLayout.DeviceId => Device.DeviceType,
            VirtioMmioLayout.VendorIdRegister => VirtioMmioLayout.VendorId,
            VirtioMmioLayout.DeviceFeatures => Registers.DeviceFeatureWord,
            // A queue the device lacks has maximum size 0: that is how the driver finds how many there are.
            VirtioMmioLayout.QueueNumMax => queue is null ? 0u : queue.MaxSize,
            VirtioMmioLayout.QueueReady => queue is { Ready: true } ? 1u : 0u,
            VirtioMmioLayout.InterruptStatus => _interruptStatus,
            VirtioMmioLayout.Status => Registers.Status,
            VirtioMmioLayout.ConfigGeneration => Registers.ConfigGeneration,
            _ => null,
        };
    }

    private void WriteRegister(ulong offset, uint value)
    {
        switch (offset)
        {
            case VirtioMmioLayout.DeviceFeaturesSel:
                Registers.DeviceFeatureSelect = value;
                break;
            case VirtioMmioLayout.DriverFeatures:
                Registers.WriteDriverFeatures(value);
                break;
            case VirtioMmioLayout.DriverFeaturesSel:
                Registers.DriverFeatureSelect = value;
                break;
            case VirtioMmioLayout.QueueSel:
                // Past 65535 no queue exists either: select one that reads as absent rather than wrap to queue 0.
                Registers.QueueSelect = (ushort)Math.Min(value, ushort.MaxValue);
                break;
            case VirtioMmioLayout.QueueNum when value <= ushort.MaxValue:
                Registers.WriteQueue(q => q.Size = (ushort)value);
                break;
            case VirtioMmioLayout.QueueReady:
                WriteQueueReady(value);
                break;
            case VirtioMmioLayout.Status when value <= byte.MaxValue:
                ApplyStatusChange(Registers.WriteStatus((byte)value));
                break;
            case VirtioMmioLayout.QueueDescLow or VirtioMmioLayout.QueueDescHigh:
                Registers.WriteQueue(q => q.DescTable = new GuestAddress(Half(q.DescTable.Value, offset - VirtioMmioLayout.QueueDescLow, value)));
                break;
            case VirtioMmioLayout.QueueDriverLow or VirtioMmioLayout.QueueDriverHigh:
                Registers.WriteQueue(q => q.AvailRing = new GuestAddress(Half(q.AvailRing.Value, offset - VirtioMmioLayout.QueueDriverLow, value)));
                break;
            case VirtioMmioLayout.QueueDeviceLow or VirtioMmioLayout.QueueDeviceHigh:
                Registers.WriteQueue(q => q.UsedRing = new GuestAddress(Half(q.UsedRing.Value, offset - VirtioMmioLayout.QueueDeviceLow, value)));
                break;
            case VirtioMmioLayout.QueueNum or VirtioMmioLayout.Status:
                Stats.CountGuestError();
                break;
            default:
                Stats.CountUnhandledWrite();
                break;
        }
    }

    /// <summary>
    /// 1 makes the selected queue ready (validated then); 0 takes it back before DRIVER_OK (Linux writes 0 when it
    /// deletes its queues, normally after a reset, when it is off already). Anything else is a guest error.
    /// </summary>
    private void WriteQueueReady(uint value)
    {
        var queue = Registers.SelectedQueue;
        if (value != 0)
        {
            Registers.EnableQueue(value);
        }
        else if (queue is { Ready: true })
        {
            if (Registers.DriverOk)
            {
                Stats.CountGuestError();
                return;
            }

            // No pass runs before DRIVER_OK, so the queue can go back to its power-on state here.
            queue.Reset();
        }
    }

    private void ReadConfig(ulong offset, Span<byte> data)
    {
        if (data.Length is not (1 or 2 or 4 or 8))
        {
            Stats.CountBadSize();
            data.Fill(0xFF);
        }
        else if (InConfig(offset, data.Length))
        {
            Device.ReadConfig(offset, data);
        }
        else
        {
            Stats.CountUnhandledRead();
            data.Fill(0xFF);
        }
    }

    private void WriteConfig(ulong offset, ReadOnlySpan<byte> data)
    {
        if (data.Length is not (1 or 2 or 4 or 8))
        {
            Stats.CountBadSize();
        }
        else if (InConfig(offset, data.Length))
        {
            Device.WriteConfig(offset, data);
        }
        else
        {
            Stats.CountUnhandledWrite();
        }
    }

    private bool InConfig(ulong offset, int length) =>
        offset < (ulong)Device.ConfigSize && (ulong)length <= (ulong)Device.ConfigSize - offset;

    private static ulong Half(ulong current, ulong half, uint value) =>
        VirtioPciCommonConfig.Merge(current, half, value, 4);
}
