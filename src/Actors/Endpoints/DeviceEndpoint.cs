using ActorVmm.Actors.Settings;
using ActorVmm.Devices;
using Akka.Actor;
using Akka.Event;

namespace ActorVmm.Actors.Endpoints;

/// <summary>
/// One device's front door: every access to the device model enters here — vCPU exits (<see cref="Read"/>,
/// <see cref="Write"/>), PCI configuration cycles (<see cref="ReadConfig"/>, <see cref="WriteConfig"/>), host input
/// (<see cref="HostInput"/>), queue passes (<see cref="ServeQueue"/>) — and the device actor behind it.
/// <para>
/// THE RULE: a device model is called one access at a time, under this endpoint's gate, so it needs no lock of its
/// own. The one exception is a queue pass of an <see cref="IQueueDevice"/>: it runs on that queue's worker without
/// the gate (so no register access waits for a request's I/O), claimed and published under the gate. Never call a
/// device model any other way.
/// </para>
/// <list type="bullet">
/// <item>Inline: a caller runs its access on its own thread when nothing is posted and it gets the gate (a
/// cross-thread wake-up costs more than most register accesses).</item>
/// <item>Posted: otherwise the access goes to the actor, which takes the gate around each message. Writes are fire
/// and forget up to <see cref="DeviceSettings.MaxPosted"/> posted accesses; beyond that, and for every read, the vCPU
/// waits on its own <see cref="ReplySlot"/> up to <see cref="DeviceSettings.ReadTimeout"/>, or until its VM pauses
/// or stops. A read given up on is skipped by the actor, not run later. A vCPU never goes inline past its own
/// posted access, so one vCPU's accesses to one device keep their order.</item>
/// <item>A device exception is caught (the guest reads all-ones), the device is withdrawn from inline use and the
/// exception goes to the actor as <see cref="DeviceProtocol.Crashed"/>, so supervision decides.</item>
/// <item>Once the actor has stopped, reads answer all-ones and writes are dropped, both counted.</item>
/// </list>
/// The endpoint object is stable for the VM's life; a restart only swaps the device instance behind it.
/// </summary>
public sealed partial class DeviceEndpoint
{
    private readonly Lock _gate = new();
    private readonly TimeSpan _readTimeout;
    private readonly int _maxPosted;
    private ILoggingAdapter? _log;
    private volatile IBusDevice? _device;
    private volatile IBusDevice? _current;
    private volatile IBusDevice? _lastInstalled;
    private volatile IBusDevice? _failStopped;
    private volatile IActorRef? _actor;
    private volatile IReplyDropper? _dropper;
    private volatile ITraceSink? _trace;
    private volatile bool _stopped;
    private volatile bool _failing;
    private int _pending;
    private int _incarnation;
    private long _inlineAccesses;
    private long _postedAccesses;
    private long _readTimeouts;
    private long _skippedReads;
    private long _waitedWrites;
    private long _deadReads;
    private long _deadWrites;
    private long _droppedInput;
    private long _failures;
    private long _restarts;

    /// <param name="name">The device's name (logs, traces, supervision).</param>
    /// <param name="settings">Read timeout and posted-access bound.</param>
    /// <param name="log">Where read timeouts are logged (thread-safe; e.g. <c>Akka.Event.Logging.GetLogger(system, ...)</c>).</param>
    /// <param name="inline">False: every access goes through the actor.</param>
    public DeviceEndpoint(string name, DeviceSettings settings, ILoggingAdapter? log = null, bool inline = true)
    {
        Name = name;
        _readTimeout = settings.ReadTimeout;
        _maxPosted = Math.Max(1, settings.MaxPosted);
        _log = log;
        InlineEnabled = inline;
    }

    public string Name { get; }

    /// <summary>What the device is (<c>serial</c>, <c>virtio-blk</c>...), from <c>DeviceBlueprint.Kind</c>; null: not said.</summary>
    public string? Kind { get; init; }

    public bool InlineEnabled { get; }

    /// <summary>
    /// Where the device stands: <see cref="DeviceRunState.Running"/> while an instance is installed,
    /// <see cref="DeviceRunState.Restarting"/> from a failure until its supervisor installed the next instance (or
    /// stopped it), <see cref="DeviceRunState.Stopped"/> once its actor stopped for good (or before it started),
    /// <see cref="DeviceRunState.FailStopped"/> when given up on but still answering registers.
    /// </summary>
    public DeviceRunState State =>
        _failStopped is not null ? DeviceRunState.FailStopped
        : _stopped || _lastInstalled is null ? DeviceRunState.Stopped
        : _failing || _current is null ? DeviceRunState.Restarting
        : DeviceRunState.Running;

    /// <summary>True once the device actor has stopped for good; the endpoint answers all-ones and drops writes.</summary>
    public bool IsStopped => _stopped;

    /// <summary>The device actor, once bound.</summary>
    public IActorRef? Actor => _actor;

    /// <summary>The bound on posted accesses (<see cref="DeviceSettings.MaxPosted"/>).</summary>
    public int MaxPosted => _maxPosted;

    /// <summary>Accesses posted to the actor and not yet run (never far above <see cref="MaxPosted"/>).</summary>
    public int Pending => Volatile.Read(ref _pending);

    /// <summary>Accesses run on the calling thread (approximate: counted without atomics).</summary>
    public long InlineAccesses => Volatile.Read(ref _inlineAccesses);

    /// <summary>Accesses processed by the device actor.</summary>
    public long PostedAccesses => Volatile.Read(ref _postedAccesses);

    /// <summary>Posted reads that got no answer within the read timeout (the guest read all-ones).</summary>
    public long ReadTimeouts => Interlocked.Read(ref _readTimeouts);

    /// <summary>Posted reads the actor skipped because their vCPU had given up on them.</summary>
    public long SkippedReads => Interlocked.Read(ref _skippedReads);

    /// <summary>Writes that found <see cref="MaxPosted"/> accesses queued and waited for their turn.</summary>
    public long WaitedWrites => Interlocked.Read(ref _waitedWrites);

    /// <summary>Reads answered all-ones because the device is stopped (or was not started).</summary>
    public long DeadReads => Interlocked.Read(ref _deadReads);

    /// <summary>Writes dropped because the device is stopped (or was not started).</summary>
    public long DeadWrites => Interlocked.Read(ref _deadWrites);

    /// <summary>Host input bytes the endpoint dropped: the device was stopped or had failed, or its actor was flooded.</summary>
    public long DroppedInput => Interlocked.Read(ref _droppedInput);

    /// <summary>Exceptions thrown by the device model (inline, in the actor or on a queue worker).</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>Times the device was rebuilt by its supervisor.</summary>
    public long Restarts => Interlocked.Read(ref _restarts);

    /// <summary>True once the device was fail-stopped (<see cref="TryFailStop"/>): its registers are served under the gate, no actor.</summary>
    public bool IsFailStopped => _failStopped is not null;

    internal Lock Gate => _gate;

    internal IBusDevice? InlineDevice => _device;

    /// <summary>State saved from the failed instance, handed to the next one (set in PreRestart).</summary>
    internal object? StashedState { get; set; }

    /// <summary>Where faults and restarts of this device are reported (the VM's tracer), if anywhere; switched while the VM runs.</summary>
    internal ITraceSink? Trace
    {
        get => _trace;
        set => _trace = value;
    }

    internal void Bind(IActorRef actor) => _actor = actor;

    internal void AttachLog(ILoggingAdapter log) => _log ??= log;

    /// <summary>1 for the first device instance, 2 after the first restart...</summary>
    internal int NextIncarnation() => Interlocked.Increment(ref _incarnation);

    /// <summary>Under the actor's control: <paramref name="device"/> is live; its queues get a pass (kicks may have been missed).</summary>
    internal void Install(IBusDevice device)
    {
        lock (_gate)
        {
            _stopped = false;
            _failing = false;
            _dropper = device as IReplyDropper;
            _lastInstalled = device;
            _current = device;
            if (InlineEnabled)
            {
                _device = device;
            }

            // A device resumed after a failed pass was quiesced; a fresh instance is not: either way passes may run.
            (device as IQueueDevice)?.Unquiesce();
        }

        KickAllQueues(device);
    }

    /// <summary>The device failed: no more inline accesses or new queue passes until the actor settles it.</summary>
    internal void Withdraw()
    {
        _device = null;
        _current = null;
        _failing = false;
    }

    /// <summary>The live instance (null while failed, restarting or stopped).</summary>
    internal IBusDevice? CurrentDevice => _current;



    internal void MarkStopped()
    {
        lock (_gate)
        {
            _device = null;
            _current = null;
            _stopped = true;
            _failing = false;
            (_lastInstalled as IQueueDevice)?.Quiesce();
        }
    }

    /// <summary>Called by the actor under the gate after it ran a posted message.</summary>
    internal void MessageDone()
    {
        _postedAccesses++;
        Interlocked.Decrement(ref _pending);
    }

    internal void CountSkippedRead() => Interlocked.Increment(ref _skippedReads);

    internal void CountFailure(Exception? cause = null)
    {
        Interlocked.Increment(ref _failures);
        Trace?.Fault(Name, cause?.GetType().Name ?? "failure");
    }

    internal void CountRestart()
    {
        Interlocked.Increment(ref _restarts);
        Trace?.Restart(Name);
    }

    /// <summary>
    /// The supervisor gave up on the device (restart budget exceeded, policy stop-device). When the last instance is
    /// an <see cref="IFailStopDevice"/> (virtio: DEVICE_NEEDS_RESET + config interrupt) it is told so and keeps
    /// answering register accesses on the caller's thread, under the gate; otherwise false (the endpoint goes dead).
    /// </summary>
    internal bool TryFailStop()
    {
        if (_lastInstalled is not IFailStopDevice device)
        {
            return false;
        }

        lock (_gate)
        {
            try
            {
                device.FailStop();
            }
            catch (Exception ex)
            {
                _log?.Error(ex, "Device {0}: fail-stop failed; the device is dead", Name);
                return false;
            }

            _failStopped = (IBusDevice)device;
            _device = null;
            _current = null;
            _dropper = null;
        }

        return true;
    }

    /// <summary>One guest read of 1..8 bytes at <paramref name="offset"/> in the device's range. Never throws.</summary>
    public void Read(ulong offset, Span<byte> data) => ReadIn(AccessSpace.Bus, offset, data);

    /// <summary>One guest write of 1..8 bytes. Never throws; may complete after it returns (posted).</summary>
    public void Write(ulong offset, ReadOnlySpan<byte> data) => WriteIn(AccessSpace.Bus, offset, data);

    /// <summary>A PCI configuration read (0xCF8/0xCFC) of the function behind this endpoint; same rules as <see cref="Read"/>.</summary>
    public void ReadConfig(int offset, Span<byte> data) => ReadIn(AccessSpace.PciConfig, (ulong)offset, data);

    /// <summary>A PCI configuration write; same rules as <see cref="Write"/>.</summary>
    public void WriteConfig(int offset, ReadOnlySpan<byte> data) => WriteIn(AccessSpace.PciConfig, (ulong)offset, data);

    /// <summary>
    /// Host input that needs the device's own answer (a power button the guest may not handle): delivered only when
    /// the device is free right now, never queued. Returns the bytes the device accepted, or null when it was busy (the
    /// input was not delivered; try again).
    /// </summary>
    public int? HostInputNow(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            return 0;
        }

        return TryEnterInline(out var device) ? AcceptInline(device, bytes) : null;
    }

    /// <summary>Hands host input to the device while this thread holds the gate, and leaves it.</summary>
    private int AcceptInline(IBusDevice device, ReadOnlySpan<byte> bytes)
    {
        try
        {
            // What the device itself refuses (a full FIFO) it counts; the endpoint counts only its own drops.
            return device is IHostInput input ? input.AcceptInput(bytes) : 0;
        }
        catch (Exception ex)
        {
            CrashedInline(ex);
            Interlocked.Add(ref _droppedInput, bytes.Length);
            return 0;
        }
        finally
        {
            _gate.Exit();
        }
    }

    /// <summary>
    /// Host input (a terminal's keystrokes) for an <see cref="IHostInput"/> device, through the same door as the
    /// guest's accesses. Returns the bytes accepted or queued for the device; the rest is dropped and counted.
    /// </summary>
    public int HostInput(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            return 0;
        }

        if (TryEnterInline(out var device))
        {
            return AcceptInline(device, bytes);
        }

        var actor = _actor;
        if (_stopped || _failStopped is not null || actor is null || Volatile.Read(ref _pending) >= _maxPosted)
        {
            Interlocked.Add(ref _droppedInput, bytes.Length);
            return 0;
        }

        Interlocked.Increment(ref _pending);
        actor.Tell(new DeviceProtocol.HostInput(bytes.ToArray()));
        return bytes.Length;
    }

    /// <summary>
    /// Makes the device fail now, as if its model threw <see cref="RequestedDeviceCrash"/> from a posted access: it
    /// is counted in <see cref="Failures"/> and its supervisor's decider decides (restart, stop, stop the VM...)
    /// exactly as for any other failure. Accesses queue behind it. False when there is no live device actor
    /// (not started, stopped, fail-stopped).
    /// </summary>
    public bool Crash(string why)
    {
        var actor = _actor;
        if (_stopped || _failStopped is not null || actor is null || _lastInstalled is null)
        {
            return false;
        }

        Interlocked.Increment(ref _pending);
        actor.Tell(new DeviceProtocol.CrashNow(Name, why));
        return true;
    }

    /// <summary>Runs one access on <paramref name="device"/> (under the gate).</summary>
    internal static void Access(IBusDevice device, AccessSpace space, ulong offset, Span<byte> read, ReadOnlySpan<byte> write, bool isRead)
    {
        if (space == AccessSpace.Bus)
        {
            if (isRead)
            {
                device.Read(offset, read);
            }
            else
            {
                device.Write(offset, write);
            }
        }
        else if (device is IConfigSpace config)
        {
            if (isRead)
            {
                config.ReadConfig((int)offset, read);
            }
            else
            {
                config.WriteConfig((int)offset, write);
            }
        }
        else if (isRead)
        {
            read.Fill(0xff);
        }
    }

    /// <summary>Host input the actor delivers (under the gate).</summary>
    internal static void DeliverInput(IBusDevice device, byte[] bytes) => (device as IHostInput)?.AcceptInput(bytes);

    private bool TryEnterInline(out IBusDevice device)
    {
        device = _device!;
        if (device is null || Volatile.Read(ref _pending) != 0)
        {
            return false;
        }

        // The gate is held either by another caller running inline (short) or by the actor (then _pending > 0):
        // spin a little while the device stays idle, rather than paying for a thread hop.
        if (!_gate.TryEnter())
        {
            var spin = new SpinWait();
            while (true)
            {
                spin.SpinOnce(sleep1Threshold: -1);
                if (Volatile.Read(ref _pending) != 0 || spin.Count > 30)
                {
                    return false;
                }

                if (_gate.TryEnter())
                {
                    break;
                }
            }
        }

        device = _device!;
        if (device is not null && _pending == 0)
        {
            return true;
        }

        _gate.Exit();
        return false;
    }

    private void CrashedInline(Exception ex)
    {
        // Under the gate. From now on accesses queue behind the Crashed message and reach whatever the
        // supervisor decides (a resumed or a rebuilt device, or a stopped endpoint).
        _device = null;
        _failing = true;
        CountFailure(ex);
        var actor = _actor;
        if (actor is not null)
        {
            Interlocked.Increment(ref _pending);
            actor.Tell(new DeviceProtocol.Crashed(ex));
        }
    }
}
