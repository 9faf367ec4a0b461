using System.Runtime.CompilerServices;
using ActorVmm.Devices.Pci;
using ActorVmm.Kvm.Memory;

namespace ActorVmm.Devices.Virtio;

// One file over 400 lines: the transport's BAR dispatch, save/restore and reset share its state; queues, common config, interrupts and the PCI function are in their own files.

/// <summary>
/// The virtio 1.x modern PCI transport for one <see cref="IVirtioDevice"/>: its PCI function
/// (<see cref="VirtioPciFunction"/>) and BAR 0, which holds the common config (<see cref="VirtioPciCommonConfig"/>),
/// ISR, device config, notify registers and, given <see cref="IMsiInterrupts"/>, the MSI-X table and PBA.
/// Interrupts go through MSI-X vectors while the guest has it enabled, else INTx (<see cref="VirtioPciInterrupts"/>).
/// <para>
/// Map the <see cref="IBusDevice"/> side on the MMIO bus at <see cref="BarAddress"/> for
/// <see cref="VirtioPciLayout.BarSize"/> bytes, the <see cref="IPciDevice"/> side on a <see cref="PciRoot"/>. Queue
/// kicks arrive as MMIO writes at <see cref="NotifyAddress"/> or directly as <see cref="NotifyQueue"/>.
/// No lock of its own: the caller serialises every entry point (the runtime's device endpoint, one access at a
/// time) except a queue pass, which runs on its queue's worker between <see cref="TryBeginQueuePass"/> and
/// <see cref="EndQueuePass"/> (<see cref="IQueueDevice"/>). Guest-caused faults are counted, never thrown; a corrupt
/// ring sets DEVICE_NEEDS_RESET. Exceptions a device model throws for host reasons propagate to the caller (the
/// supervising actor), whose restart can use <see cref="SaveState"/>.
/// </para>
/// </summary>
public sealed partial class VirtioPciDevice : IBusDevice, IPciDevice, IStatefulDevice, IFailStopDevice, IQueueDevice, IHostInput
{
    private readonly IVirtioDevice _device;
    private readonly GuestMemory _memory;
    private readonly Virtqueue[] _queues;
    private readonly byte[] _initialConfiguration;
    private readonly MsixCapability? _msix;
    private readonly VirtioPciCommonConfig _common;
    private readonly VirtioPciInterrupts _interrupts;
    private readonly bool[] _passBusy;
    private int _busyPasses;
    private bool _activated;
    private bool _failStopped;
    private bool _resetPending;
    private bool _quiesced;

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
        _queues = Enumerable.Range(0, device.QueueCount).Select(_ => new Virtqueue(device.MaxQueueSize, limits)).ToArray();
        _passBusy = new bool[_queues.Length];
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

        _common = new VirtioPciCommonConfig(device, memory, _queues, _msix, Stats);
        _interrupts = new VirtioPciInterrupts(Configuration, interrupt, _msix);
        _initialConfiguration = Configuration.SaveState();
    }

    public string Name { get; }

    public DeviceStats Stats { get; } = new();

    /// <summary>Chains and bytes its queues complete (give every incarnation of one slot the same instance).</summary>
    public VirtqueueTraffic? Traffic
    {
        get => _queues.Length == 0 ? null : _queues[0].Traffic;
        init
        {
            foreach (var queue in _queues)
            {
                queue.Traffic = value;
            }
        }
    }

    /// <summary>PCI configuration space; subscribe to <see cref="PciConfiguration.BarMoved"/> to follow guest BAR moves.</summary>
    public PciConfiguration Configuration { get; }

    public IVirtioDevice Device => _device;

    /// <summary>Where BAR 0 decodes now (the VMM's address unless the guest moved it).</summary>
    public ulong BarAddress => Configuration.GetBarAddress(0);

    /// <summary>The function's MSI-X, or null when it was built without <see cref="IMsiInterrupts"/>.</summary>
    public MsixCapability? Msix => _msix;

    /// <summary>True while the guest has MSI-X enabled (interrupts go through vectors, not INTx).</summary>
    public bool MsixEnabled => _msix?.Enabled ?? false;

    public byte Status => _common.Status;

    public byte Isr => _interrupts.Isr;

    public ulong DriverFeatures => _common.DriverFeatures;

    /// <summary>True once <see cref="FailStop"/> ran: queues are no longer served.</summary>
    public bool IsFailStopped => _failStopped;

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
        if (InRange(offset, length, VirtioPciLayout.CommonOffset, VirtioPciLayout.CommonLength))
        {
            _common.Read(offset - VirtioPciLayout.CommonOffset, data);
        }
        else if (InRange(offset, length, VirtioPciLayout.IsrOffset, VirtioPciLayout.IsrLength))
        {
            data[0] = _interrupts.ReadIsr();
        }
        else if (InRange(offset, length, VirtioPciLayout.DeviceConfigOffset, (ulong)_device.ConfigSize))
        {
            _device.ReadConfig(offset - VirtioPciLayout.DeviceConfigOffset, data);
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
    public void Write(ulong offset, ReadOnlySpan<byte> data)
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
        else if (InRange(offset, length, VirtioPciLayout.DeviceConfigOffset, (ulong)_device.ConfigSize))
        {
            _device.WriteConfig(offset - VirtioPciLayout.DeviceConfigOffset, data);
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

    /// <summary>Host input for a model that takes it (the virtio console); other models accept nothing.</summary>
    public int AcceptInput(ReadOnlySpan<byte> input) => _device is IHostInput host ? host.AcceptInput(input) : 0;

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

    public object SaveState()
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
            _activated,
            _queues.Select(q => q.SaveState()).ToArray(),
            _device.SaveDeviceState(),
            _msix?.SaveState());
        return _common.SaveInto(state);
    }

    /// <summary>
    /// Brings back a <see cref="VirtioPciState"/>: re-activates the model if the driver had, re-drives the INTx
    /// line from ISR and signals used buffers a crashed instance completed but never signalled. Serves nothing
    /// itself: every ready queue is asked for a pass (<see cref="QueueKickHandler"/>), since notifications may have
    /// been lost while restarting. Call with no pass running.
    /// </summary>
    public void RestoreState(object state)
    {
        if (state is not VirtioPciState s || s.Queues.Count != _queues.Length
            || (s.QueueVectors is not null && s.QueueVectors.Count != _queues.Length))
        {
            throw new ArgumentException("not a saved state of this virtio-pci device", nameof(state));
        }

        RestoreRegisters(s);
        for (var i = 0; i < _queues.Length; i++)
        {
            _queues[i].RestoreState(s.Queues[i]);
        }

        _device.RestoreDeviceState(s.DeviceState);
        _activated = false;
        if (s.Activated)
        {
            Activate();
        }

        _interrupts.ResyncLine();
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

            RequestAllQueues();
        }
    }

    /// <summary>
    /// Restoring <paramref name="state"/> failed: brings back what the driver sees of the function (PCI config,
    /// MSI-X, status and vectors) without queues or model state, and sets DEVICE_NEEDS_RESET with a configuration
    /// interrupt, so the driver learns the device lost its requests and resets it, instead of waiting forever on a
    /// device that silently forgot DRIVER_OK. Falls back to power-on when even that state is unusable.
    /// </summary>
    public void RestoreFailed(object state)
    {
        try
        {
            if (state is not VirtioPciState s || (s.QueueVectors is not null && s.QueueVectors.Count != _queues.Length))
            {
                throw new ArgumentException("not a saved state of this virtio-pci device", nameof(state));
            }

            RestoreRegisters(s);
            _interrupts.ResyncLine();
            SetNeedsReset();
        }
        catch (Exception)
        {
            Reset();
            throw;
        }
    }

    /// <summary>
    /// The supervisor gave up on this device: set DEVICE_NEEDS_RESET (with a configuration interrupt once the driver
    /// is up) and stop serving queues for good. Registers keep working (the driver can read the status and ISR and
    /// drop the line); a driver reset does not revive the device.
    /// </summary>
    public void FailStop()
    {
        _failStopped = true;
        Quiesce();
        SetNeedsReset();
    }

    /// <summary>Power-on state: device reset plus the PCI configuration space as the VMM built it. Call with no pass running.</summary>
    public void Reset()
    {
        ResetDevice();
        _common.PowerOn();
        Configuration.RestoreState(_initialConfiguration);
        _msix?.Reset();
        _interrupts.UpdateLine();
    }

    private ulong NotifyLength => (ulong)_queues.Length * VirtioPciLayout.NotifyOffMultiplier;

    private static bool InRange(ulong offset, ulong length, ulong start, ulong size) =>
        offset >= start && offset - start < size && length <= size - (offset - start);

    private void RestoreRegisters(VirtioPciState s)
    {
        Configuration.RestoreState(s.PciConfiguration);
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
        if (_resetPending)
        {
            // The driver wrote 0 and waits for device_status to read 0; nothing else is taken until then.
            Stats.CountGuestError();
            return;
        }

        switch (_common.Write(offset, data))
        {
            case VirtioStatusChange.Reset when _busyPasses > 0:
                // A worker is serving a request: the reset completes when its pass ends (EndQueuePass). Until then
                // device_status keeps its old value, as the spec lets a device take its time.
                _resetPending = true;
                foreach (var q in _queues)
                {
                    q.Quiescing = true;
                }

                break;
            case VirtioStatusChange.Reset:
                ResetDevice();
                _interrupts.UpdateLine();
                break;
            case VirtioStatusChange.DriverOk:
                Activate();
                RequestAllQueues();
                break;
        }
    }

    /// <summary>Device reset (status 0): the model, its queues and the registers; the config generation stays.</summary>
    private void ResetDevice()
    {
        _device.Reset();
        foreach (var q in _queues)
        {
            q.Reset();
            q.Quiescing = _quiesced;
        }

        _common.Reset();
        _interrupts.Clear();
        _activated = false;
        _resetPending = false;
    }
}
