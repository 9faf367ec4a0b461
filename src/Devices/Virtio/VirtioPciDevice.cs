using System.Runtime.CompilerServices;
using ActorVmm.Devices.Pci;
using ActorVmm.Kvm.Memory;

namespace ActorVmm.Devices.Virtio;

/// <summary>
/// The virtio 1.x modern PCI transport for one <see cref="IVirtioDevice"/>: its PCI function
/// (<see cref="VirtioPciFunction"/>) and BAR 0, which holds the common config (<see cref="VirtioPciCommonConfig"/>),
/// ISR, device config, notify registers and, given <see cref="IMsiInterrupts"/>, the MSI-X table and PBA.
/// Interrupts go through MSI-X vectors while the guest has it enabled, else INTx (<see cref="VirtioPciInterrupts"/>).
/// Negotiation, queues, reset and restore are the shared <see cref="VirtioTransport"/>'s.
/// <para>
/// Map the <see cref="IBusDevice"/> side on the MMIO bus at <see cref="BarAddress"/> for
/// <see cref="VirtioPciLayout.BarSize"/> bytes, the <see cref="IPciDevice"/> side on a <see cref="PciRoot"/>. Queue
/// kicks arrive as MMIO writes at <see cref="NotifyAddress"/> or directly as <see cref="VirtioTransport.NotifyQueue"/>.
/// </para>
/// </summary>
public sealed class VirtioPciDevice : VirtioTransport, IPciDevice
{
    private readonly byte[] _initialConfiguration;
    private readonly MsixCapability? _msix;
    private readonly VirtioPciCommonConfig _common;
    private readonly VirtioPciInterrupts _interrupts;

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
        : base(name, device, memory, limits, VirtioPciLayout.DeviceConfigMaxLength)
    {
        ArgumentNullException.ThrowIfNull(interrupt);
        Configuration = VirtioPciFunction.Create(device, barAddress, irq);
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

        _common = new VirtioPciCommonConfig(Registers, Queues, _msix, Stats);
        _interrupts = new VirtioPciInterrupts(Configuration, interrupt, _msix);
        _initialConfiguration = Configuration.SaveState();
    }

    /// <summary>PCI configuration space; subscribe to <see cref="PciConfiguration.BarMoved"/> to follow guest BAR moves.</summary>
    public PciConfiguration Configuration { get; }

    /// <summary>Where BAR 0 decodes now (the VMM's address unless the guest moved it).</summary>
    public ulong BarAddress => Configuration.GetBarAddress(0);

    /// <summary>The function's MSI-X, or null when it was built without <see cref="IMsiInterrupts"/>.</summary>
    public MsixCapability? Msix => _msix;

    /// <summary>True while the guest has MSI-X enabled (interrupts go through vectors, not INTx).</summary>
    public bool MsixEnabled => _msix?.Enabled ?? false;

    public byte Isr => _interrupts.Isr;

    /// <summary>Offset of queue <paramref name="queueIndex"/>'s notify register in BAR 0.</summary>
    public static ulong NotifyOffsetOf(int queueIndex) =>
        VirtioPciLayout.NotifyOffset + ((ulong)queueIndex * VirtioPciLayout.NotifyOffMultiplier);

    /// <summary>Guest-physical address whose write notifies queue <paramref name="queueIndex"/> (register an ioeventfd here).</summary>
    public ulong NotifyAddress(int queueIndex)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(queueIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(queueIndex, QueueCount);
        return BarAddress + NotifyOffsetOf(queueIndex);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Read(ulong offset, Span<byte> data)
    {
        Stats.CountRead();
        if (data.Length is not (1 or 2 or 4 or 8))
        {
            Stats.CountBadSize();
            data.Fill(0xFF);
            return;
        }

        var length = (ulong)data.Length;
        if (InRange(offset, length, VirtioPciLayout.CommonOffset, VirtioPciLayout.CommonLength))
        {
            _common.Read(offset - VirtioPciLayout.CommonOffset, data);
        }
        else if (InRange(offset, length, VirtioPciLayout.IsrOffset, VirtioPciLayout.IsrLength))
        {
            data[0] = _interrupts.ReadIsr();
        }
        else if (InRange(offset, length, VirtioPciLayout.DeviceConfigOffset, (ulong)Device.ConfigSize))
        {
            Device.ReadConfig(offset - VirtioPciLayout.DeviceConfigOffset, data);
        }
        else if (InRange(offset, length, VirtioPciLayout.NotifyOffset, NotifyLength))
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        Stats.CountWrite();
        if (data.Length is not (1 or 2 or 4 or 8))
        {
            Stats.CountBadSize();
            return;
        }

        var length = (ulong)data.Length;
        if (InRange(offset, length, VirtioPciLayout.CommonOffset, VirtioPciLayout.CommonLength))
        {
            WriteCommon(offset - VirtioPciLayout.CommonOffset, data);
        }
        else if (InRange(offset, length, VirtioPciLayout.DeviceConfigOffset, (ulong)Device.ConfigSize))
        {
            Device.WriteConfig(offset - VirtioPciLayout.DeviceConfigOffset, data);
        }
        else if (InRange(offset, 1, VirtioPciLayout.NotifyOffset, NotifyLength))
        {
            // Any write that starts on a queue's notify register kicks it, as the any-length ioeventfd there does.
            // The value written does not matter (no VIRTIO_F_NOTIFICATION_DATA), nor does the width: every width
            // asks the queue's worker for a pass, exactly as the ioeventfd does. Nothing is served here.
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

    public void ReadConfig(int offset, Span<byte> data)
    {
        Configuration.Read(offset, data);
    }

    public void WriteConfig(int offset, ReadOnlySpan<byte> data)
    {
        if (!Configuration.Write(offset, data))
        {
            Stats.CountUnhandledWrite();
        }

        // MSI-X enable / function mask may have changed: pending vectors go out, INTx follows.
        _msix?.ConfigurationWritten();
        _interrupts.UpdateLine();
    }

    public override object SaveState()
    {
        var state = new VirtioPciState(
            Configuration.SaveState(),
            DeviceFeatureSelect: 0,
            DriverFeatureSelect: 0,
            DriverFeatures: 0,
            Status: 0,
            _interrupts.Isr,
            ConfigGeneration: 0,
            QueueSelect: 0,
            Activated,
            Queues.Select(q => q.SaveState()).ToArray(),
            Device.SaveDeviceState(),
            _msix?.SaveState());
        return _common.SaveInto(Registers.SaveInto(state));
    }

    /// <summary>Power-on: the PCI configuration space as the VMM built it, MSI-X off.</summary>
    private protected override void PowerOnTransport()
    {
        Configuration.RestoreState(_initialConfiguration);
        _msix?.Reset();
    }

    private ulong NotifyLength => (ulong)QueueCount * VirtioPciLayout.NotifyOffMultiplier;

    private static bool InRange(ulong offset, ulong length, ulong start, ulong size) =>
        offset >= start && offset - start < size && length <= size - (offset - start);

    /// <summary>A <see cref="VirtioPciState"/> of a PCI function (with a configuration space) with this function's queue vectors.</summary>
    private protected override VirtioPciState CheckState(object state) =>
        state is VirtioPciState s && s.PciConfiguration.Length > 0 && (s.QueueVectors is null || s.QueueVectors.Count == QueueCount)
            ? s
            : throw new ArgumentException("not a saved state of this virtio-pci device", nameof(state));

    /// <summary>Configuration space, registers, vectors and MSI-X.</summary>
    private protected override void RestoreRegisters(VirtioPciState s)
    {
        Configuration.RestoreState(s.PciConfiguration);
        Registers.Restore(s);
        _common.Restore(s);
        _interrupts.RestoreIsr(s.Isr);
        if (_msix is not null && s.Msix is not null)
        {
            _msix.RestoreState(s.Msix);
        }
        else
        {
            _msix?.ConfigurationWritten();
        }
    }

    private void WriteCommon(ulong offset, ReadOnlySpan<byte> data)
    {
        if (ResetPending)
        {
            // The driver wrote 0 and waits for device_status to read 0; nothing else is taken until then.
            Stats.CountGuestError();
            return;
        }

        ApplyStatusChange(_common.Write(offset, data));
    }

    private protected override ulong NotifyRegisterOffset(int queue) => NotifyOffsetOf(queue);

    private protected override void SignalQueue(int index) => _interrupts.SignalQueue(_common.QueueVector(index));

    private protected override void SignalConfig() => _interrupts.SignalConfig(_common.ConfigVector);

    private protected override void ResetTransport()
    {
        _common.Reset();
        _interrupts.Clear();
    }

    private protected override void UpdateInterruptLine() => _interrupts.UpdateLine();

    private protected override void ResyncInterruptLine() => _interrupts.ResyncLine();
}
