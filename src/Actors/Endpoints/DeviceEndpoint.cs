using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using ActorVmm.Actors.Settings;
using ActorVmm.Devices;
using Akka.Actor;
using Akka.Event;

namespace ActorVmm.Actors.Endpoints;

// One file over 400 lines: the inline and posted paths share one gate and pending count, which must be read together.

/// <summary>
/// What the bus maps to: one device's front door, shared by the vCPU threads and the device's actor.
/// <para>
/// Why not just Tell/Ask: a cross-thread wake-up costs several microseconds, far more than most device register
/// accesses, and an idle device is the common case. So the endpoint keeps actor semantics without a thread hop
/// when it can:
/// </para>
/// <list type="bullet">
/// <item>A gate (lock) around every call into the device: the device sees one access at a time, whether it comes
/// inline from a vCPU thread or from the actor (which takes the same gate around each message).</item>
/// <item>A count of messages posted to the actor and not yet processed. A vCPU thread runs an access INLINE on
/// its own thread only when that count is 0 and it gets the gate; otherwise it posts the access to the actor
/// (writes: fire and forget; reads: wait on the thread's own <see cref="ReplySlot"/>, spin briefly then block,
/// up to <see cref="DeviceSettings.ReadTimeout"/>, then all-ones). Since a poster increments the count before the
/// Tell and the actor decrements it only after the access ran, a vCPU never goes inline past its own earlier
/// posted access: accesses from one vCPU to one device keep their order.</item>
/// <item>A device exception thrown inline is caught on the vCPU thread (the guest reads all-ones), the device is
/// withdrawn from inline use, and the exception is forwarded to the actor as <see cref="DeviceProtocol.Crashed"/>,
/// which rethrows it, so supervision sees exactly what it would if the actor had thrown. Accesses in the
/// meantime queue behind it and reach the restarted device.</item>
/// <item>Once the actor has stopped (decider Stop, budget exceeded, VM shut down) reads answer all-ones and
/// writes are dropped, both counted.</item>
/// </list>
/// Inline accesses cannot time out: a device model must not block in Read/Write (do slow work elsewhere), or be
/// mapped with inline disabled so its accesses always go through the actor and the read timeout applies.
/// The endpoint object is stable for the VM's life; a restart only swaps the device instance behind it.
/// </summary>
public sealed class DeviceEndpoint
{
    private readonly Lock _gate = new();
    private readonly TimeSpan _readTimeout;
    private ILoggingAdapter? _log;
    private volatile IBusDevice? _device;
    private volatile IActorRef? _actor;
    private volatile bool _stopped;
    private int _pending;
    private long _inlineAccesses;
    private long _postedAccesses;
    private long _readTimeouts;
    private long _deadReads;
    private long _deadWrites;
    private long _failures;
    private long _restarts;
    private volatile IReplyDropper? _dropper;
    private volatile IBusDevice? _failStopped;

    /// <param name="name">The device's name (logs, traces, supervision).</param>
    /// <param name="settings">Read timeout for posted reads.</param>
    /// <param name="log">Where read timeouts are logged (thread-safe; e.g. <c>Akka.Event.Logging.GetLogger(system, ...)</c>).</param>
    /// <param name="inline">False: every access goes through the actor (for device models that may block).</param>
    public DeviceEndpoint(string name, DeviceSettings settings, ILoggingAdapter? log = null, bool inline = true)
    {
        Name = name;
        _readTimeout = settings.ReadTimeout;
        _log = log;
        InlineEnabled = inline;
    }

    public string Name { get; }

    public bool InlineEnabled { get; }

    /// <summary>True once the device actor has stopped for good; the endpoint answers all-ones and drops writes.</summary>
    public bool IsStopped => _stopped;

    /// <summary>The device actor, once bound.</summary>
    public IActorRef? Actor => _actor;

    /// <summary>Accesses run on the calling vCPU thread (approximate: counted without atomics).</summary>
    public long InlineAccesses => Volatile.Read(ref _inlineAccesses);

    /// <summary>Accesses processed by the device actor.</summary>
    public long PostedAccesses => Volatile.Read(ref _postedAccesses);

    /// <summary>Posted reads that got no answer within the read timeout (the guest read all-ones).</summary>
    public long ReadTimeouts => Interlocked.Read(ref _readTimeouts);

    /// <summary>Reads answered all-ones because the device is stopped (or was not started).</summary>
    public long DeadReads => Interlocked.Read(ref _deadReads);

    /// <summary>Writes dropped because the device is stopped (or was not started).</summary>
    public long DeadWrites => Interlocked.Read(ref _deadWrites);

    /// <summary>Exceptions thrown by the device model (inline or in the actor).</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>Times the device was rebuilt by its supervisor.</summary>
    public long Restarts => Interlocked.Read(ref _restarts);

    internal Lock Gate => _gate;

    internal IBusDevice? InlineDevice => _device;

    /// <summary>State saved from the failed instance, handed to the next one (set in PreRestart).</summary>
    internal object? StashedState { get; set; }

    private int _incarnation;

    internal void Bind(IActorRef actor) => _actor = actor;

    internal void AttachLog(ILoggingAdapter log) => _log ??= log;

    /// <summary>1 for the first device instance, 2 after the first restart...</summary>
    internal int NextIncarnation() => Interlocked.Increment(ref _incarnation);

    internal void Install(IBusDevice device)
    {
        _stopped = false;
        _dropper = device as IReplyDropper;
        _lastInstalled = device;
        if (InlineEnabled)
        {
            _device = device;
        }
    }

    internal void Withdraw() => _device = null;

    private volatile IBusDevice? _lastInstalled;

    /// <summary>True once the device was fail-stopped (<see cref="TryFailStop"/>): its registers are served under the gate, no actor.</summary>
    public bool IsFailStopped => _failStopped is not null;

    /// <summary>
    /// The supervisor gave up on the device (restart budget exceeded, policy stop-device). When the last instance is
    /// an <see cref="IFailStopDevice"/> (virtio: DEVICE_NEEDS_RESET + config interrupt) it is told so and keeps
    /// answering register accesses on the vCPU thread, under the gate; otherwise false (the endpoint goes dead).
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
            _dropper = null;
        }

        return true;
    }

    private bool ServeFailStopped(ulong offset, Span<byte> read, ReadOnlySpan<byte> write, bool isRead)
    {
        var device = _failStopped;
        if (device is null)
        {
            return false;
        }

        lock (_gate)
        {
            try
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
            catch (Exception)
            {
                // A fail-stopped device is past supervision; it answers all-ones instead of failing again.
                read.Fill(0xff);
                CountFailure();
            }
        }

        return true;
    }

    /// <summary>A dropped read (fault injection): no message, no reply; the vCPU waits out the read timeout.</summary>
    private void DropRead(ulong offset, Span<byte> data)
    {
        var remaining = _readTimeout;
        var slice = TimeSpan.FromMilliseconds(100);
        while (remaining > TimeSpan.Zero && !_stopped)
        {
            var wait = remaining < slice ? remaining : slice;
            Thread.Sleep(wait);
            remaining -= wait;
        }

        data.Fill(0xff);
        Interlocked.Increment(ref _readTimeouts);
        _log?.Warning("Device {0}: read of {1} bytes at offset 0x{2:x} dropped (injected fault); the guest reads all-ones after {3} ms", Name, data.Length, offset, (long)_readTimeout.TotalMilliseconds);
    }

    internal void MarkStopped()
    {
        _device = null;
        _stopped = true;
    }

    /// <summary>Called by the actor under the gate after it ran a posted message.</summary>
    internal void MessageDone()
    {
        _postedAccesses++;
        Interlocked.Decrement(ref _pending);
    }

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

    /// <summary>Where faults and restarts of this device are reported (the VM's tracer), if anywhere.</summary>
    internal ITraceSink? Trace { get; set; }

    /// <summary>One guest read of 1..8 bytes at <paramref name="offset"/> in the device's range. Never throws.</summary>
    public void Read(ulong offset, Span<byte> data)
    {
        if (ServeFailStopped(offset, data, default, isRead: true))
        {
            return;
        }

        if (_dropper is { } dropper && dropper.ShouldDropRead(offset, data.Length))
        {
            DropRead(offset, data);
            return;
        }

        if (TryEnterInline(out var device))
        {
            try
            {
                device.Read(offset, data);
                _inlineAccesses++;
            }
            catch (Exception ex)
            {
                data.Fill(0xff);
                CrashedInline(ex);
            }
            finally
            {
                _gate.Exit();
            }

            return;
        }

        ReadPosted(offset, data);
    }

    /// <summary>One guest write of 1..8 bytes. Never throws; may complete after it returns (posted).</summary>
    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        if (ServeFailStopped(offset, default, data, isRead: false))
        {
            return;
        }

        if (TryEnterInline(out var device))
        {
            try
            {
                device.Write(offset, data);
                _inlineAccesses++;
            }
            catch (Exception ex)
            {
                CrashedInline(ex);
            }
            finally
            {
                _gate.Exit();
            }

            return;
        }

        var actor = _actor;
        if (_stopped || actor is null)
        {
            Interlocked.Increment(ref _deadWrites);
            return;
        }

        Span<byte> buffer = stackalloc byte[8];
        buffer.Clear();
        data[..Math.Min(data.Length, 8)].CopyTo(buffer);
        Interlocked.Increment(ref _pending);
        PostedAccessInfo.MarkPosted();
        actor.Tell(new DeviceProtocol.Write(offset, BinaryPrimitives.ReadUInt64LittleEndian(buffer), Math.Min(data.Length, 8)));
    }

    /// <summary>
    /// Queue <paramref name="queue"/> of the device was kicked (its ioeventfd fired): delivered as a typed kick, in
    /// order with the device's register accesses and under the same supervision. Never throws.
    /// </summary>
    public void NotifyQueue(int queue)
    {
        if (_failStopped is { } failStopped)
        {
            lock (_gate)
            {
                try
                {
                    Kick(failStopped, queue);
                }
                catch (Exception)
                {
                    CountFailure();
                }
            }

            return;
        }

        if (TryEnterInline(out var device))
        {
            try
            {
                Kick(device, queue);
                _inlineAccesses++;
            }
            catch (Exception ex)
            {
                CrashedInline(ex);
            }
            finally
            {
                _gate.Exit();
            }

            return;
        }

        var actor = _actor;
        if (_stopped || actor is null)
        {
            Interlocked.Increment(ref _deadWrites);
            return;
        }

        Interlocked.Increment(ref _pending);
        actor.Tell(new DeviceProtocol.NotifyQueue(queue));
    }

    /// <summary>A kick of a device that has no queues is a write nobody handles: counted by the device's stats, if any.</summary>
    internal static void Kick(IBusDevice device, int queue)
    {
        if (device is IQueueNotifiable notifiable)
        {
            notifiable.NotifyQueue(queue);
        }
    }

    private bool TryEnterInline(out IBusDevice device)
    {
        device = _device!;
        if (device is null || Volatile.Read(ref _pending) != 0)
        {
            return false;
        }

        // The gate is held either by another vCPU running inline (short) or by the actor (then _pending > 0):
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
        CountFailure(ex);
        var actor = _actor;
        if (actor is not null)
        {
            Interlocked.Increment(ref _pending);
            actor.Tell(new DeviceProtocol.Crashed(ex));
        }
    }

    private void ReadPosted(ulong offset, Span<byte> data)
    {
        var actor = _actor;
        if (_stopped || actor is null || data.Length > 8)
        {
            Interlocked.Increment(ref _deadReads);
            data.Fill(0xff);
            return;
        }

        var slot = ReplySlot.Current;
        var ticket = slot.Begin();
        var postedAt = ActorVmm.Kvm.Timing.CycleClock.Now();
        var traceInfo = PostedAccessInfo.MarkPosted();
        Interlocked.Increment(ref _pending);
        actor.Tell(new DeviceProtocol.Read(offset, data.Length, slot, ticket));

        // Wait in slices so a device that stops (its queued messages die with it) releases us early.
        var remaining = _readTimeout;
        var slice = TimeSpan.FromMilliseconds(100);
        while (true)
        {
            var wait = remaining < slice ? remaining : slice;
            var answered = slot.Wait(wait);
            remaining -= wait;
            if (answered || _stopped || remaining <= TimeSpan.Zero)
            {
                if (slot.Finish(ticket, out var value, out var startedTicks))
                {
                    traceInfo.QueuedTicks = startedTicks > postedAt ? startedTicks - postedAt : 0;
                    Span<byte> buffer = stackalloc byte[8];
                    BinaryPrimitives.WriteUInt64LittleEndian(buffer, value);
                    buffer[..data.Length].CopyTo(data);
                    return;
                }

                data.Fill(0xff);
                if (_stopped)
                {
                    Interlocked.Increment(ref _deadReads);
                }
                else
                {
                    Interlocked.Increment(ref _readTimeouts);
                    _log?.Warning(
                        "Device {0}: read of {1} bytes at offset 0x{2:x} got no answer within {3} ms; the guest reads all-ones",
                        Name,
                        data.Length,
                        offset,
                        (long)_readTimeout.TotalMilliseconds);
                }

                return;
            }
        }
    }
}
