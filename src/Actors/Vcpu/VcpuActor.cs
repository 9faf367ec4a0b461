using System.Diagnostics;
using ActorVmm.Actors.Bus;
using ActorVmm.Actors.Endpoints;
using ActorVmm.Actors.Tracing;
using ActorVmm.Actors.Vm;
using ActorVmm.Kvm;
using ActorVmm.Kvm.Linux;
using ActorVmm.Kvm.Timing;
using Akka.Actor;
using Akka.Event;
using BusMap = ActorVmm.Actors.Bus.Bus;

namespace ActorVmm.Actors.Vcpu;

/// <summary>
/// One vCPU. The actor is the control plane (<see cref="VcpuProtocol"/>); a dedicated thread named
/// <c>vcpuN</c> is the data plane: it binds the <see cref="IVcpu"/>, runs it, and answers I/O exits through the
/// buses on its own thread. The thread only ever blocks on its own device reply slot or on its pause gate; the
/// actor never blocks (it flips flags, kicks the vCPU and waits for the thread's messages).
/// <para>
/// Pause and stop first complete a pending I/O exit: after an IoIn/MmioRead exit is answered, KVM only commits the
/// data into the guest on the next KVM_RUN, so the thread sets immediate_exit and runs once more (that run returns
/// at once, access completed) before it parks or exits. Nothing is lost or doubled across pause/resume.
/// </para>
/// <para>
/// Every exit is counted into the VM's <see cref="ExitCounters"/>. The tracer can be switched while the thread runs
/// (<see cref="VcpuProtocol.SetTracer"/>): the thread takes the new one between two exits (or while parked), after
/// flushing the old one, and only then is <see cref="VcpuProtocol.TracerSet"/> sent — from then on the thread never
/// touches the old tracer again.
/// </para>
/// </summary>
public sealed class VcpuActor : UntypedActor
{
    private readonly IVcpu _vcpu;
    private readonly BusMap _bus;
    private readonly IActorRef? _reportTo;
    private readonly long[] _exitCounts;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IActorRef _self;
    private readonly CpuSet? _affinity;
    private readonly object _sync = new();
    private readonly List<IActorRef> _pauseWaiters = [];
    private readonly List<IActorRef> _stopWaiters = [];
    private readonly List<(int Generation, IActorRef Waiter)> _tracerWaiters = [];
    private Thread? _thread;
    private volatile ReplySlot? _replySlot;
    private bool _pauseRequested;
    private bool _stopRequested;
    private int _pauseGeneration;
    private bool _exited;
    private VmStopReason? _exitReason;
    private VcpuTracer? _tracer;
    private volatile TracerChange? _tracerChange;
    private int _tracerGeneration;

    public VcpuActor(IVcpu vcpu, BusMap bus, IActorRef? reportTo, VcpuTracer? tracer = null, ExitCounters? exitCounters = null, CpuSet? affinity = null)
    {
        _affinity = affinity;
        _vcpu = vcpu;
        _bus = bus;
        _reportTo = reportTo;
        _tracer = tracer;
        _exitCounts = (exitCounters ?? new ExitCounters()).ForVcpu();
        _self = Self;
    }

    public int Id => _vcpu.Id;

    /// <param name="reportTo">Who gets <see cref="VcpuProtocol.GuestStopped"/>; defaults to the parent.</param>
    /// <param name="tracer">Exit statistics/tracing for this vCPU (null: off, one null check per exit); switch it with <see cref="VcpuProtocol.SetTracer"/>.</param>
    /// <param name="exitCounters">The VM's exit counters this vCPU counts into (null: counters of its own nobody reads).</param>
    /// <param name="affinity">
    /// The host CPUs the vCPU thread is pinned to before its first KVM_RUN (null: not pinned). A pinning Linux refuses
    /// stops the VM with an internal-error reason naming the CPUs.
    /// </param>
    public static Props Props(
        IVcpu vcpu, BusMap bus, IActorRef? reportTo = null, VcpuTracer? tracer = null, ExitCounters? exitCounters = null, CpuSet? affinity = null) =>
        Akka.Actor.Props.Create(() => new VcpuActor(vcpu, bus, reportTo, tracer, exitCounters, affinity));

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case VcpuProtocol.Start:
                OnStart();
                break;
            case VcpuProtocol.Pause:
                OnPause();
                break;
            case VcpuProtocol.Resume:
                OnResume();
                break;
            case VcpuProtocol.Stop:
                OnStop();
                break;
            case VcpuProtocol.Kick:
                _vcpu.Kick();
                break;
            case VcpuProtocol.SetTracer set:
                OnSetTracer(set.Tracer);
                break;
            case TracerSwitched switched:
                ReplyTracerWaiters(switched.Generation);
                break;
            case ThreadParked parked:
                if (parked.Generation == _pauseGeneration && _pauseRequested)
                {
                    ReplyAll(_pauseWaiters, new VcpuProtocol.Paused(Id));
                }

                break;
            case ThreadExited exited:
                OnThreadExited(exited.Reason);
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    protected override void PostStop()
    {
        // Never block here: ask the thread to finish; it only touches the vCPU and the bus from now on.
        RequestStop();
    }

    private void OnStart()
    {
        if (_thread is not null || _exited)
        {
            return;
        }

        _thread = new Thread(ThreadMain) { Name = $"vcpu{Id}", IsBackground = true };
        _thread.Start();
    }

    private void OnPause()
    {
        if (_exited || _thread is null)
        {
            Sender.Tell(_exited ? new VcpuProtocol.Stopped(Id, _exitReason) : new VcpuProtocol.Paused(Id));
            if (_thread is null && !_exited)
            {
                // Not started: starting later will park at once.
                lock (_sync)
                {
                    _pauseRequested = true;
                }
            }

            return;
        }

        _pauseWaiters.Add(Sender);
        lock (_sync)
        {
            _pauseRequested = true;
            _pauseGeneration++;
            Monitor.PulseAll(_sync);
        }

        // A posted read or a string-I/O loop this thread is in stops waiting: the pause must not wait for a device.
        _replySlot?.Interrupt();
        _vcpu.Kick();
    }

    private void OnResume()
    {
        if (_exited)
        {
            Sender.Tell(new VcpuProtocol.Stopped(Id, _exitReason));
            return;
        }

        lock (_sync)
        {
            _pauseRequested = false;
            Monitor.PulseAll(_sync);
        }

        // Anyone still waiting for Paused gets it: the pause they asked for happened or was overtaken.
        ReplyAll(_pauseWaiters, new VcpuProtocol.Paused(Id));
        Sender.Tell(new VcpuProtocol.Resumed(Id));
    }

    private void OnStop()
    {
        if (_exited || _thread is null)
        {
            _exited = true;
            Sender.Tell(new VcpuProtocol.Stopped(Id, _exitReason));
            return;
        }

        _stopWaiters.Add(Sender);
        RequestStop();
    }

    private void RequestStop()
    {
        lock (_sync)
        {
            _stopRequested = true;
            Monitor.PulseAll(_sync);
        }

        _replySlot?.Interrupt();
        if (_thread is not null)
        {
            _vcpu.Kick();
        }
    }

    private void OnSetTracer(VcpuTracer? tracer)
    {
        var generation = ++_tracerGeneration;
        _tracerWaiters.Add((generation, Sender));
        if (_exited || _thread is null)
        {
            // No thread runs (yet, or any more): nobody else touches the field.
            _tracer = tracer;
            _tracerChange = null;
            ReplyTracerWaiters(generation);
            return;
        }

        lock (_sync)
        {
            _tracerChange = new TracerChange(tracer, generation);
            Monitor.PulseAll(_sync);
        }

        // Out of KVM_RUN (a halted guest may stay in it for long): the loop takes the change before the next run.
        _vcpu.Kick();
    }

    private void ReplyTracerWaiters(int generation)
    {
        for (var i = 0; i < _tracerWaiters.Count; i++)
        {
            if (_tracerWaiters[i].Generation <= generation)
            {
                _tracerWaiters[i].Waiter.Tell(new VcpuProtocol.TracerSet(Id));
                _tracerWaiters.RemoveAt(i--);
            }
        }
    }

    private void OnThreadExited(VmStopReason? reason)
    {
        _exited = true;
        _exitReason = reason;
        if (_tracerChange is { } change)
        {
            // The thread ended before taking it: it will never write into either tracer again.
            _tracer = change.Tracer;
            _tracerChange = null;
        }

        ReplyTracerWaiters(_tracerGeneration);
        if (reason is not null)
        {
            _log.Info("vcpu{0} stopped: {1}", Id, reason);
            (_reportTo ?? Context.Parent).Tell(new VcpuProtocol.GuestStopped(Id, reason));
        }

        var stopped = new VcpuProtocol.Stopped(Id, reason);
        ReplyAll(_pauseWaiters, stopped);
        ReplyAll(_stopWaiters, stopped);
    }

    private static void ReplyAll(List<IActorRef> waiters, object reply)
    {
        foreach (var waiter in waiters)
        {
            waiter.Tell(reply);
        }

        waiters.Clear();
    }

    // ---- the vCPU thread ----
    private void ThreadMain()
    {
        VmStopReason? reason = null;
        var bound = false;
        try
        {
            if (_affinity is not null)
            {
                ThreadScheduling.PinCurrentThread(_affinity);
            }

            _vcpu.BindToCurrentThread();
            _tracer?.BindToCurrentThread();
            _replySlot = ReplySlot.Current;
            bound = true;
            StartupProbe.MarkFirstRun();
            var pendingIo = false;
            var reportedGeneration = -1;
            while (reason is null)
            {
                if (_tracerChange is not null)
                {
                    SwitchTracer();
                }

                if (Volatile.Read(ref _pauseRequested) || Volatile.Read(ref _stopRequested))
                {
                    // Commit a pending IN / MMIO read (and finish any I/O instruction) before parking.
                    while (pendingIo && reason is null)
                    {
                        _vcpu.ImmediateExit = true;
                        var completing = _vcpu.Run();
                        _vcpu.ImmediateExit = false;
                        (pendingIo, reason) = Dispatch(completing);
                    }

                    if (reason is not null)
                    {
                        break;
                    }

                    lock (_sync)
                    {
                        while (_pauseRequested && !_stopRequested)
                        {
                            if (_tracerChange is not null)
                            {
                                SwitchTracer();
                            }

                            if (reportedGeneration != _pauseGeneration)
                            {
                                reportedGeneration = _pauseGeneration;
                                _self.Tell(new ThreadParked(reportedGeneration));
                            }

                            Monitor.Wait(_sync);
                        }

                        if (_stopRequested)
                        {
                            break;
                        }

                        // Running the guest again: device waits wait again.
                        _replySlot?.ClearInterrupt();
                    }

                    continue;
                }

                (pendingIo, reason) = Dispatch(_vcpu.Run());
            }
        }
        catch (Exception ex)
        {
            reason = new VmStopReason(VmStopReasonKind.InternalError, $"vcpu{Id} loop failed: {ex.GetType().Name}: {ex.Message}");
            _log.Error(ex, "vcpu{0} loop failed", Id);
        }
        finally
        {
            // Buffered handling times go into the statistics before anyone hears this loop ended.
            _tracer?.Flush();
            if (bound && _vcpu is ActorVmm.Kvm.Vcpu kvmVcpu)
            {
                kvmVcpu.UnbindFromCurrentThread();
            }

            _self.Tell(new ThreadExited(reason));
        }
    }

    /// <summary>On the vCPU thread, between exits: flush the old tracer, take the new one, tell the actor.</summary>
    private void SwitchTracer()
    {
        var change = Interlocked.Exchange(ref _tracerChange, null);
        if (change is null)
        {
            return;
        }

        _tracer?.Flush();
        _tracer = change.Tracer;
        _tracer?.BindToCurrentThread();
        _self.Tell(new TracerSwitched(change.Generation));
    }

    /// <summary>Handles one exit: counted always, timed and recorded when tracing is on.</summary>
    private (bool PendingIo, VmStopReason? Stop) Dispatch(VmExit exit)
    {
        ExitCounters.Count(_exitCounts, exit.Kind);
        var tracer = _tracer;
        if (tracer is null || tracer.Paused)
        {
            return Handle(exit);
        }

        if (!tracer.TimeNext())
        {
            // Only statistics sample (a trace times every exit): no posted-access bookkeeping needed.
            var untimed = Handle(exit);
            tracer.ExitUntimed(exit);
            return untimed;
        }

        var start = CycleClock.Now();
        tracer.BeginExit();
        var result = Handle(exit);
        tracer.Exit(exit, _vcpu.ExitData, start, CycleClock.Now());
        return result;
    }

    /// <summary>Handles one exit on the vCPU thread: (an I/O access is pending commit, the loop must end with a reason).</summary>
    private (bool PendingIo, VmStopReason? Stop) Handle(VmExit exit)
    {
        switch (exit.Kind)
        {
            case VmExitKind.IoIn:
                Pio(exit, read: true);
                return (true, null);
            case VmExitKind.IoOut:
                Pio(exit, read: false);
                return (true, null);
            case VmExitKind.MmioRead:
            {
                var data = Slice(_vcpu.ExitData, exit.Size);
                _bus.Read(BusSpace.Mmio, exit.Address, data);
                return (true, null);
            }

            case VmExitKind.MmioWrite:
                _bus.Write(BusSpace.Mmio, exit.Address, Slice(_vcpu.ExitData, exit.Size));
                return (true, null);
            case VmExitKind.Interrupted:
                return (false, null);
            default:
                return (false, ExitReasons.For(Id, exit) ?? new VmStopReason(VmStopReasonKind.InternalError, $"vcpu{Id}: unexpected exit {exit}"));
        }
    }

    private void Pio(VmExit exit, bool read)
    {
        var data = _vcpu.ExitData;
        var size = exit.Size;
        if (size <= 0)
        {
            return;
        }

        // String I/O: Count elements of Size bytes, all at the same port. Never trust lengths beyond the buffer.
        var count = Math.Min(Math.Max(exit.Count, 1), data.Length / size);
        for (var i = 0; i < count; i++)
        {
            var element = data.Slice(i * size, size);
            if (i > 0 && (Volatile.Read(ref _stopRequested) || Volatile.Read(ref _pauseRequested)))
            {
                // The VM is pausing or stopping: the rest of a rep ins reads all-ones, the rest of a rep outs is
                // dropped, rather than one instruction holding the pause for up to 4096 device accesses.
                if (read)
                {
                    data[(i * size)..(count * size)].Fill(0xff);
                }

                return;
            }

            if (read)
            {
                _bus.Read(BusSpace.Pio, exit.Port, element);
            }
            else
            {
                _bus.Write(BusSpace.Pio, exit.Port, element);
            }
        }
    }

    private static Span<byte> Slice(Span<byte> data, int size) => data[..Math.Clamp(size, 0, data.Length)];

    private sealed record ThreadParked(int Generation);

    private sealed record ThreadExited(VmStopReason? Reason);

    private sealed record TracerSwitched(int Generation);

    private sealed record TracerChange(VcpuTracer? Tracer, int Generation);
}
