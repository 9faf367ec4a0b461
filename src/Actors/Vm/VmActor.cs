using ActorVmm.Actors.Bus;
using ActorVmm.Actors.Endpoints;
using ActorVmm.Actors.Irq;
using ActorVmm.Actors.Supervision;
using ActorVmm.Actors.Vcpu;
using Akka.Actor;
using Akka.Event;

namespace ActorVmm.Actors.Vm;

// One file over 400 lines: the VM's start and stop sequences are one state machine over the same children and state.

/// <summary>
/// The root of one VM. From a <see cref="VmBlueprint"/> it builds, in order: the IRQ actor and the lines devices
/// asked for, the device supervisor and one device actor per device, then one <see cref="VcpuActor"/> per vCPU,
/// and starts them. The bus (ranges → endpoints, <see cref="VmBus"/>) comes with the blueprint or is built when the
/// props are made, so a conflicting layout fails synchronously with a <see cref="BusConflictException"/>.
/// <para>
/// It stops with a <see cref="VmStopReason"/> — the first of: a vCPU's guest exit (poweroff, reset, triple fault,
/// internal error), a device failure beyond its budget or escalated, a device's <see cref="IVmControl.RequestStop"/>,
/// or a host <see cref="VmProtocol.Stop"/>. Stopping: every vCPU thread finishes (completing pending I/O), then the
/// devices and IRQ lines stop, then the blueprint's resources are disposed, then the reason is published
/// (<see cref="VmBlueprint.OnStopped"/>, <see cref="VmProtocol.WatchStop"/> subscribers, <see cref="VmHandle.Stopped"/>)
/// and the actor stops. VMs share nothing but the actor system.
/// </para>
/// <para>
/// While it runs it can be paused and resumed (<see cref="VmProtocol.Pause"/>: every vCPU thread parks, devices and
/// interrupts go on) and a tracer attached or detached (<see cref="VmProtocol.StartTracing"/>). Such a command asks
/// each vCPU actor and answers once all confirmed; one runs at a time (another kind meanwhile is refused, the same
/// kind joins it). A stop overrides any of them.
/// </para>
/// </summary>
public sealed partial class VmActor : UntypedActor
{
    private readonly VmBlueprint _blueprint;
    private readonly VmBus _bus;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IrqStats _irqStats = new();
    private readonly List<IActorRef> _stopWatchers = [];
    private readonly Dictionary<IActorRef, bool> _vcpus = [];
    private readonly IActorRef _self;
    private IActorRef? _irq;
    private IActorRef? _devices;
    private VmState _state = VmState.Building;
    private VmStopReason? _reason;
    private bool _vcpuThreadsUnaccounted;
    private bool _childrenStopping;
    private readonly Dictionary<IActorRef, int> _vcpuIds = [];
    private readonly Tracing.TracingIrqChip _irqTracing;
    private ICancelable? _stopTimer;
    private Tracing.VmTracer? _tracer;
    private Command? _command;

    /// <summary>Use <see cref="Props"/> or <see cref="Spawn"/>: they build and validate the bus.</summary>
    public VmActor(VmBlueprint blueprint, VmBus bus)
    {
        _blueprint = blueprint;
        _bus = bus;
        _self = Self;
        _tracer = blueprint.Tracer;
        var devices = _blueprint.Devices.Where(d => d.Irq is not null)
            .GroupBy(d => d.Irq!.Gsi)
            .ToDictionary(g => g.Key, g => string.Join("+", g.Select(d => d.Name)));
        _irqTracing = new Tracing.TracingIrqChip(_blueprint.Irq, _tracer, devices);
        foreach (var endpoint in _bus.Endpoints)
        {
            endpoint.AttachLog(Akka.Event.Logging.GetLogger(Context.System, $"{Self.Path}/devices/{endpoint.Name}"));
            endpoint.Trace = blueprint.Tracer;
        }
    }

    /// <summary>Props for a VM; builds its bus now unless the blueprint brings one (<see cref="VmBlueprint.Bus"/>).</summary>
    /// <exception cref="BusConflictException">Two devices overlap, or a range is empty/wraps.</exception>
    /// <exception cref="ArgumentException">Device names are empty or not unique.</exception>
    public static Props Props(VmBlueprint blueprint)
    {
        var bus = blueprint.Bus ?? VmBus.Build(blueprint.Devices, blueprint.DeviceSettings);
        return FactoryProps.Create(() => new VmActor(blueprint, bus));
    }

    /// <summary>Starts a VM under <paramref name="parent"/> (an actor system or an actor's context).</summary>
    public static VmHandle Spawn(IActorRefFactory parent, VmBlueprint blueprint, string? actorName = null)
    {
        var stopped = new TaskCompletionSource<VmStopReason>(TaskCreationOptions.RunContinuationsAsynchronously);
        var user = blueprint.OnStopped;
        var wired = blueprint with
        {
            OnStopped = reason =>
            {
                try
                {
                    user?.Invoke(reason);
                }
                finally
                {
                    stopped.TrySetResult(reason);
                }
            },
        };
        var actor = parent.ActorOf(Props(wired), actorName ?? Uri.EscapeDataString(blueprint.Name));
        return new VmHandle(actor, stopped.Task);
    }

    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(
        failure =>
        {
            var reason = failure is DeviceFailureException d
                ? new VmStopReason(VmStopReasonKind.DeviceFailure, $"{d.Device} failed (escalated): {d.Cause.GetType().Name}: {d.Cause.Message}")
                : new VmStopReason(VmStopReasonKind.InternalError, $"{failure.GetType().Name}: {failure.Message}");
            _log.Error(failure, "VM {0}: a component failed: {1}", _blueprint.Name, reason.Message);
            _self.Tell(new VmProtocol.Stop(reason));
            return Directive.Stop;
        },
        loggingEnabled: false);

    protected override void PreStart()
    {
        _irq = Context.ActorOf(IrqActor.Props(_irqTracing, _irqStats), "irq");
        Context.Watch(_irq);
        var requests = _blueprint.Devices.Where(d => d.Irq is not null).Select(d => (d.Name, d.Irq!)).ToList();
        _irq.Tell(new IrqProtocol.Connect(requests));
    }

    protected override void PreRestart(Exception reason, object message)
    {
        // A VM is not rebuilt in place: stop it instead.
        _log.Error(reason, "VM {0} failed; stopping it", _blueprint.Name);
        Context.Stop(Self);
    }

    protected override void PostRestart(Exception reason)
    {
    }

    protected override void PostStop()
    {
        _stopTimer?.Cancel();
        if (_state != VmState.Stopped)
        {
            // Stopped from outside without going through Stop: at least don't leave vCPU threads running.
            foreach (var vcpu in _vcpus.Keys)
            {
                vcpu.Tell(VcpuProtocol.Stop.Instance);
            }
        }
    }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case IrqProtocol.Connected connected:
                OnLinesConnected(connected);
                break;
            case IrqProtocol.ConnectFailed failed:
                BeginStop(new VmStopReason(VmStopReasonKind.InternalError, $"interrupt lines: {failed.Reason}"));
                break;
            case DeviceSupervisorProtocol.Started:
                OnDevicesStarted();
                break;
            case VcpuProtocol.GuestStopped guest:
                BeginStop(guest.Reason);
                break;
            case DeviceSupervisorProtocol.DeviceFailed failed:
                BeginStop(failed.Reason);
                break;
            case VmProtocol.Stop stop:
                BeginStop(stop.Reason);
                break;
            case VcpuProtocol.Stopped:
                OnVcpuStopped(Sender, confirmed: true);
                break;
            case VmProtocol.Pause:
                OnPause();
                break;
            case VmProtocol.Resume:
                OnResume();
                break;
            case VmProtocol.StartTracing start:
                OnStartTracing(start.Tracer);
                break;
            case VmProtocol.StopTracing:
                OnStopTracing();
                break;
            case VmProtocol.Snapshot snapshot:
                OnSnapshot(snapshot.Directory);
                break;
            case VcpuProtocol.Paused or VcpuProtocol.Resumed or VcpuProtocol.TracerSet:
                OnVcpuConfirmed(Sender);
                break;
            case StopTimedOut:
                _log.Error("VM {0}: vCPU threads did not stop within {1}; its resources are NOT disposed", _blueprint.Name, _blueprint.StopTimeout);
                _vcpuThreadsUnaccounted = true;
                StopChildren();
                break;
            case Terminated terminated:
                OnTerminated(terminated.ActorRef);
                break;
            case VmProtocol.WatchStop:
                if (_state == VmState.Stopped && _reason is not null)
                {
                    Sender.Tell(new VmProtocol.Stopped(_reason));
                }
                else
                {
                    _stopWatchers.Add(Sender);
                }

                break;
            case VmProtocol.GetStatus:
                Sender.Tell(new VmProtocol.Status(_blueprint.Name, _state, _bus.Bus, _bus.Endpoints, _irqStats)
                {
                    ExitCounters = _blueprint.ExitCounters,
                    Tracer = _tracer,
                });
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void OnLinesConnected(IrqProtocol.Connected connected)
    {
        if (_state != VmState.Building)
        {
            return;
        }

        var control = new Control(_blueprint.Name, Self);
        var specs = new List<DeviceSupervisorProtocol.DeviceSpec>();
        for (var i = 0; i < _blueprint.Devices.Count; i++)
        {
            var device = _blueprint.Devices[i];
            var line = connected.Lines.GetValueOrDefault(device.Name);
            var context = new DeviceContext(device.Name, line, control);
            if (device.RestoreState is not null)
            {
                _bus.Endpoints[i].StashedState = device.RestoreState;
            }

            specs.Add(new DeviceSupervisorProtocol.DeviceSpec(_bus.Endpoints[i], () => device.Factory(context), line));
        }

        _devices = Context.ActorOf(DeviceSupervisorActor.Props(specs, _blueprint.Supervision, Self), "devices");
        Context.Watch(_devices);
    }

    private void OnDevicesStarted()
    {
        if (_state != VmState.Building)
        {
            return;
        }

        StartupProbe.Mark("VM: interrupt lines and device actors");
        _blueprint.OnDevicesStarted?.Invoke(_bus);
        foreach (var vcpu in _blueprint.Vcpus)
        {
            var props = VcpuActor.Props(
                vcpu, _bus.Bus, Self, _tracer?.ForVcpu(vcpu.Id, _bus.Bus), _blueprint.ExitCounters, _blueprint.VcpuCpus?.Pick(vcpu.Id));
            var actor = Context.ActorOf(props, $"vcpu{vcpu.Id}");
            Context.Watch(actor);
            _vcpus[actor] = false;
            _vcpuIds[actor] = vcpu.Id;
            if (_blueprint.StartPaused)
            {
                // Asked before it starts, its thread parks before the first KVM_RUN (the reply needs no answer).
                actor.Tell(VcpuProtocol.Pause.Instance);
            }

            actor.Tell(VcpuProtocol.Start.Instance);
        }

        _state = _blueprint.StartPaused ? VmState.Paused : VmState.Running;
        _log.Info("VM {0} {1}: {2} vCPU(s), {3} device(s)", _blueprint.Name, _blueprint.StartPaused ? "paused" : "running", _vcpus.Count, _bus.Endpoints.Count);
    }

    private void BeginStop(VmStopReason reason)
    {
        if (_reason is not null)
        {
            _log.Debug("VM {0} is already stopping ({1}); ignoring {2}", _blueprint.Name, _reason, reason);
            return;
        }

        _reason = reason;
        _state = VmState.Stopping;
        _log.Info("VM {0} stopping: {1}", _blueprint.Name, reason);
        if (_vcpus.Values.All(stopped => stopped))
        {
            StopChildren();
            return;
        }

        foreach (var (vcpu, stopped) in _vcpus)
        {
            if (!stopped)
            {
                vcpu.Tell(VcpuProtocol.Stop.Instance);
            }
        }

        _stopTimer = Context.System.Scheduler.ScheduleTellOnceCancelable(_blueprint.StopTimeout, Self, StopTimedOut.Instance, Self);
    }

    private void OnVcpuStopped(IActorRef vcpu, bool confirmed)
    {
        if (!_vcpus.TryGetValue(vcpu, out var already) || already)
        {
            return;
        }

        _vcpus[vcpu] = true;
        if (!confirmed)
        {
            _vcpuThreadsUnaccounted = true;
        }

        // Its thread has ended: it has nothing more to confirm.
        OnVcpuConfirmed(vcpu);

        if (_state == VmState.Stopping && _vcpus.Values.All(stopped => stopped))
        {
            StopChildren();
        }
    }

    private void OnTerminated(IActorRef actor)
    {
        if (_vcpus.ContainsKey(actor))
        {
            // A vCPU actor that dies before confirming its thread ended: its thread may still run.
            OnVcpuStopped(actor, confirmed: false);
            if (_state != VmState.Stopping)
            {
                BeginStop(new VmStopReason(VmStopReasonKind.InternalError, $"{actor.Path.Name} actor stopped unexpectedly"));
            }

            return;
        }

        if (actor.Equals(_irq))
        {
            _irq = null;
        }
        else if (actor.Equals(_devices))
        {
            _devices = null;
        }

        if (!_childrenStopping)
        {
            BeginStop(new VmStopReason(VmStopReasonKind.InternalError, $"{actor.Path.Name} stopped unexpectedly"));
            return;
        }

        ContinueStopping();
    }

    private void ContinueStopping()
    {
        // Devices first (they may still raise interrupts), the IRQ lines once they are gone.
        if (_devices is not null)
        {
            Context.Stop(_devices);
        }
        else if (_irq is not null)
        {
            Context.Stop(_irq);
        }
        else
        {
            Finish();
        }
    }

    private void StopChildren()
    {
        if (_childrenStopping)
        {
            return;
        }

        _childrenStopping = true;
        _stopTimer?.Cancel();

        // The vCPUs a command still waits for are gone (or given up on): it ends now.
        _command?.Pending.Clear();
        TryCompleteCommand();
        foreach (var vcpu in _vcpus.Keys)
        {
            Context.Unwatch(vcpu);
            Context.Stop(vcpu);
        }

        ContinueStopping();
    }

    private void Finish()
    {
        if (_state == VmState.Stopped)
        {
            return;
        }

        _state = VmState.Stopped;
        var reason = _reason!;
        if (_blueprint.Resources is not null)
        {
            if (_vcpuThreadsUnaccounted)
            {
                _log.Error("VM {0}: not disposing its resources: a vCPU thread may still be using them", _blueprint.Name);
            }
            else
            {
                try
                {
                    _blueprint.Resources.Dispose();
                }
                catch (Exception ex)
                {
                    _log.Error(ex, "VM {0}: disposing its resources failed", _blueprint.Name);
                }
            }
        }

        _log.Info("VM {0} stopped: {1}", _blueprint.Name, reason);
        try
        {
            _blueprint.OnStopped?.Invoke(reason);
        }
        catch (Exception ex)
        {
            _log.Error(ex, "VM {0}: a stop callback failed", _blueprint.Name);
        }

        foreach (var watcher in _stopWatchers)
        {
            watcher.Tell(new VmProtocol.Stopped(reason));
        }

        _stopWatchers.Clear();
        Context.Stop(Self);
    }

    private sealed record StopTimedOut
    {
        public static readonly StopTimedOut Instance = new();
    }

    /// <summary>The <see cref="IVmControl"/> device factories get: a Tell to this VM's actor.</summary>
    private sealed class Control(string vmName, IActorRef vm) : IVmControl
    {
        public string VmName { get; } = vmName;

        public void RequestStop(VmStopReason reason) => vm.Tell(new VmProtocol.Stop(reason));
    }
}
