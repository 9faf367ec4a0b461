using ActorVmm.Kvm.Memory;

namespace ActorVmm.Devices.Virtio;

/// <summary>
/// What every virtio 1.x transport of one <see cref="IVirtioDevice"/> shares, whatever its register layout: the
/// negotiation registers (<see cref="VirtioRegisters"/>), the queues and their passes (<see cref="IQueueDevice"/>),
/// activation on DRIVER_OK, device reset (deferred while a pass runs), DEVICE_NEEDS_RESET, fail-stop and the restore
/// of queues and model after a restart. A transport (<see cref="VirtioPciDevice"/>, <see cref="VirtioMmioDevice"/>)
/// adds its register layout and how it interrupts.
/// <para>
/// No lock of its own: the caller serialises every entry point (the runtime's device endpoint, one access at a
/// time) except a queue pass, which runs on its queue's worker between <see cref="TryBeginQueuePass"/> and
/// <see cref="EndQueuePass"/>. Guest-caused faults are counted, never thrown; a corrupt ring sets
/// DEVICE_NEEDS_RESET. Exceptions a device model throws for host reasons propagate to the caller (the supervising
/// actor), whose restart can use <see cref="SaveState"/>.
/// </para>
/// </summary>
public abstract partial class VirtioTransport : IBusDevice, IStatefulDevice, IFailStopDevice, IQueueDevice, IHostInput
{
    private readonly IVirtioDevice _device;
    private readonly GuestMemory _memory;
    private readonly Virtqueue[] _queues;
    private readonly bool[] _passBusy;
    private int _busyPasses;
    private bool _activated;
    private bool _failStopped;
    private bool _resetPending;
    private bool _quiesced;

    /// <param name="name">Device name for logs (e.g. <c>disk0</c>).</param>
    /// <param name="device">The device model; must offer VIRTIO_F_VERSION_1, 1 to 64 queues.</param>
    /// <param name="memory">Guest RAM the queues live in.</param>
    /// <param name="limits">Descriptor chain bounds, default <see cref="VirtqueueLimits.Default"/>.</param>
    /// <param name="maxConfigSize">The most device configuration bytes the transport's layout has room for.</param>
    private protected VirtioTransport(string name, IVirtioDevice device, GuestMemory memory, VirtqueueLimits? limits, ulong maxConfigSize)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(memory);
        if ((device.AvailableFeatures & VirtioFeatures.Version1) == 0)
        {
            throw new ArgumentException("a modern virtio device must offer VIRTIO_F_VERSION_1", nameof(device));
        }

        if (device.QueueCount is < 1 or > 64 || device.ConfigSize < 0 || (ulong)device.ConfigSize > maxConfigSize)
        {
            throw new ArgumentException("device has an unsupported queue count or config size", nameof(device));
        }

        Name = name;
        _device = device;
        _memory = memory;
        _queues = Enumerable.Range(0, device.QueueCount).Select(_ => new Virtqueue(device.MaxQueueSize, limits)).ToArray();
        _passBusy = new bool[_queues.Length];
        Registers = new VirtioRegisters(device, memory, _queues, Stats);
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

    public IVirtioDevice Device => _device;

    public byte Status => Registers.Status;

    public ulong DriverFeatures => Registers.DriverFeatures;

    /// <summary>True once <see cref="FailStop"/> ran: queues are no longer served.</summary>
    public bool IsFailStopped => _failStopped;

    private protected VirtioRegisters Registers { get; }

    private protected Virtqueue[] Queues => _queues;

    private protected GuestMemory Memory => _memory;

    /// <summary>The driver wrote 0 to the status while a pass ran: nothing but the status read is taken until it ends.</summary>
    private protected bool ResetPending => _resetPending;

    private protected bool Activated => _activated;

    public abstract void Read(ulong offset, Span<byte> data);

    public abstract void Write(ulong offset, ReadOnlySpan<byte> data);

    public abstract object SaveState();

    /// <summary>
    /// Brings back a state <see cref="SaveState"/> made: re-activates the model if the driver had, re-drives the
    /// line from the saved interrupt status and signals used buffers a crashed instance completed but never
    /// signalled. Serves nothing itself: every ready queue is asked for a pass (<see cref="QueueKickHandler"/>),
    /// since notifications may have been lost while restarting. Call with no pass running.
    /// </summary>
    public void RestoreState(object state)
    {
        var s = CheckState(state);
        if (s.Queues.Count != _queues.Length)
        {
            throw new ArgumentException($"a saved state with {s.Queues.Count} queues, not {_queues.Length}", nameof(state));
        }

        RestoreRegisters(s);
        RestoreQueuesAndModel(s);
    }

    /// <summary>
    /// Restoring <paramref name="state"/> failed: brings back what the driver sees of the transport (its registers,
    /// and for PCI the configuration space and MSI-X) without queues or model state, and sets DEVICE_NEEDS_RESET with
    /// a configuration interrupt, so the driver learns the device lost its requests and resets it, instead of
    /// waiting forever on a device that silently forgot DRIVER_OK. Falls back to power-on when even that state is
    /// unusable.
    /// </summary>
    public void RestoreFailed(object state)
    {
        try
        {
            RestoreRegisters(CheckState(state));
            ResyncInterruptLine();
            SetNeedsReset();
        }
        catch (Exception)
        {
            Reset();
            throw;
        }
    }

    /// <summary>Power-on state: a device reset, config generation 0 and the transport as the VMM built it. Call with no pass running.</summary>
    public void Reset()
    {
        ResetDevice();
        Registers.PowerOn();
        PowerOnTransport();
        UpdateInterruptLine();
    }

    /// <summary>Host input for a model that takes it (the virtio console); other models accept nothing.</summary>
    public int AcceptInput(ReadOnlySpan<byte> input) => _device is IHostInput host ? host.AcceptInput(input) : 0;

    /// <summary>
    /// The supervisor gave up on this device: set DEVICE_NEEDS_RESET (with a configuration interrupt once the driver
    /// is up) and stop serving queues for good. Registers keep working (the driver can read the status and
    /// interrupt status and drop the line); a driver reset does not revive the device.
    /// </summary>
    public void FailStop()
    {
        _failStopped = true;
        Quiesce();
        SetNeedsReset();
    }

    /// <summary>Offset of queue <paramref name="queue"/>'s notify register in the transport's window.</summary>
    private protected abstract ulong NotifyRegisterOffset(int queue);

    /// <summary>Used buffers on queue <paramref name="index"/>: interrupt the driver as the transport does.</summary>
    private protected abstract void SignalQueue(int index);

    /// <summary>A configuration change (or DEVICE_NEEDS_RESET): interrupt the driver as the transport does.</summary>
    private protected abstract void SignalConfig();

    /// <summary>Device reset: the transport's own registers and interrupt status (the line follows on <see cref="UpdateInterruptLine"/>).</summary>
    private protected abstract void ResetTransport();

    /// <summary>Power-on: what of the transport a device reset keeps (PCI: its configuration space and MSI-X).</summary>
    private protected virtual void PowerOnTransport()
    {
    }

    /// <summary>
    /// <paramref name="state"/> as a saved state of this transport (its queues aside: a restore that failed may have
    /// lost them); <see cref="ArgumentException"/> when it is not one.
    /// </summary>
    private protected abstract VirtioPciState CheckState(object state);

    /// <summary>Takes the registers of a checked state (<see cref="CheckState"/>); queues and model follow.</summary>
    private protected abstract void RestoreRegisters(VirtioPciState state);

    /// <summary>Drives the interrupt line from the interrupt status.</summary>
    private protected abstract void UpdateInterruptLine();

    /// <summary>Drives the line from the interrupt status as if it had been low (after a restore).</summary>
    private protected abstract void ResyncInterruptLine();

    /// <summary>
    /// What a status write asks (<see cref="VirtioRegisters.WriteStatus"/>): a reset, at once or, while a worker
    /// serves a request, when its pass ends; an activation that serves what the driver queued before DRIVER_OK.
    /// </summary>
    private protected void ApplyStatusChange(VirtioStatusChange change)
    {
        switch (change)
        {
            case VirtioStatusChange.Reset when _busyPasses > 0:
                // The reset completes when the pass ends (EndQueuePass). Until then the status keeps its old value,
                // as the spec lets a device take its time.
                _resetPending = true;
                foreach (var q in _queues)
                {
                    q.Quiescing = true;
                }

                break;
            case VirtioStatusChange.Reset:
                ResetDevice();
                UpdateInterruptLine();
                break;
            case VirtioStatusChange.DriverOk:
                Activate();
                RequestAllQueues();
                break;
        }
    }

    /// <summary>The queues and the model of a saved state whose registers are back (<see cref="RestoreState"/>).</summary>
    private void RestoreQueuesAndModel(VirtioPciState s)
    {
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

        ResyncInterruptLine();
        if (s.Activated)
        {
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

    /// <summary>Device reset (status 0): the model, its queues and the registers; the config generation stays.</summary>
    private protected void ResetDevice()
    {
        _device.Reset();
        foreach (var q in _queues)
        {
            q.Reset();
            q.Quiescing = _quiesced;
        }

        Registers.Reset();
        ResetTransport();
        _activated = false;
        _resetPending = false;
    }
}
