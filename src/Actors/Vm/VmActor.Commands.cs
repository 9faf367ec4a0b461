using ActorVmm.Actors.Tracing;
using ActorVmm.Actors.Vcpu;
using Akka.Actor;
using Akka.Event;

namespace ActorVmm.Actors.Vm;

/// <summary>Pause, resume and attaching/detaching a tracer: each asks every live vCPU actor and answers once all confirmed.</summary>
public sealed partial class VmActor
{
    private void OnPause()
    {
        if (_command?.Kind == CommandKind.Pause)
        {
            _command.Waiters.Add(Sender);
        }
        else if (_state == VmState.Paused && _command?.Kind != CommandKind.Resume)
        {
            Sender.Tell(VmProtocol.Paused.Instance);
        }
        else if (CanRun(CommandKind.Pause, VmState.Running))
        {
            Begin(CommandKind.Pause, _ => VcpuProtocol.Pause.Instance);
        }
    }

    private void OnResume()
    {
        if (_command?.Kind == CommandKind.Resume)
        {
            _command.Waiters.Add(Sender);
        }
        else if (_state == VmState.Running && _command?.Kind != CommandKind.Pause)
        {
            Sender.Tell(VmProtocol.Resumed.Instance);
        }
        else if (CanRun(CommandKind.Resume, VmState.Paused))
        {
            Begin(CommandKind.Resume, _ => VcpuProtocol.Resume.Instance);
        }
    }

    private void OnStartTracing(VmTracer tracer)
    {
        if (!CanRun(CommandKind.StartTracing, VmState.Running, VmState.Paused))
        {
            return;
        }

        if (_tracer is not null)
        {
            Sender.Tell(new VmProtocol.Failed($"VM {_blueprint.Name} is already tracing: stop that first", _state));
            return;
        }

        _tracer = tracer;
        AttachToDevices(tracer);
        Begin(CommandKind.StartTracing, vcpu => new VcpuProtocol.SetTracer(tracer.ForVcpu(_vcpuIds[vcpu], _bus.Bus)));
    }

    private void OnStopTracing()
    {
        if (!CanRun(CommandKind.StopTracing, VmState.Running, VmState.Paused))
        {
            return;
        }

        if (_tracer is not { } detached)
        {
            Sender.Tell(new VmProtocol.Failed($"VM {_blueprint.Name} is not tracing", _state));
            return;
        }

        _tracer = null;
        AttachToDevices(null);
        Begin(CommandKind.StopTracing, _ => new VcpuProtocol.SetTracer(null)).Detached = detached;
        TryCompleteCommand();
    }

    /// <summary>Endpoints (faults, restarts), interrupts and whoever watches (<see cref="VmBlueprint.OnTracerChanged"/>) switch now.</summary>
    private void AttachToDevices(VmTracer? tracer)
    {
        foreach (var endpoint in _bus.Endpoints)
        {
            endpoint.Trace = tracer;
        }

        _irqTracing.Sink = tracer;
        try
        {
            _blueprint.OnTracerChanged?.Invoke(tracer);
        }
        catch (Exception ex)
        {
            _log.Error(ex, "VM {0}: a tracer-changed callback failed", _blueprint.Name);
        }
    }

    /// <summary>True when no other command runs and the VM is in one of <paramref name="states"/>; otherwise refuses the sender.</summary>
    private bool CanRun(CommandKind kind, params VmState[] states)
    {
        var verb = kind switch
        {
            CommandKind.Pause => "pause",
            CommandKind.Resume => "resume",
            CommandKind.StartTracing => "start tracing",
            _ => "stop tracing",
        };
        if (!states.Contains(_state))
        {
            Sender.Tell(new VmProtocol.Failed($"VM {_blueprint.Name} is {_state.ToString().ToLowerInvariant()}: cannot {verb}", _state));
            return false;
        }

        if (_command is not null)
        {
            Sender.Tell(new VmProtocol.Failed($"VM {_blueprint.Name} is busy ({_command.Kind}): cannot {verb} now, try again", _state));
            return false;
        }

        return true;
    }

    private Command Begin(CommandKind kind, Func<IActorRef, object> message)
    {
        var pending = _vcpus.Where(v => !v.Value).Select(v => v.Key).ToHashSet();
        var command = new Command(kind, pending);
        command.Waiters.Add(Sender);
        _command = command;
        foreach (var vcpu in pending)
        {
            vcpu.Tell(message(vcpu));
        }

        if (kind != CommandKind.StopTracing)
        {
            TryCompleteCommand();
        }

        return command;
    }

    /// <summary>A vCPU confirmed (or its thread ended).</summary>
    private void OnVcpuConfirmed(IActorRef vcpu)
    {
        if (_command?.Pending.Remove(vcpu) == true)
        {
            TryCompleteCommand();
        }
    }

    private void TryCompleteCommand()
    {
        if (_command is not { Pending.Count: 0 } command)
        {
            return;
        }

        _command = null;
        object reply;
        switch (command.Kind)
        {
            case CommandKind.Pause when _state == VmState.Running:
                _state = VmState.Paused;
                _log.Info("VM {0} paused", _blueprint.Name);
                reply = VmProtocol.Paused.Instance;
                break;
            case CommandKind.Resume when _state == VmState.Paused:
                _state = VmState.Running;
                _log.Info("VM {0} resumed", _blueprint.Name);
                reply = VmProtocol.Resumed.Instance;
                break;
            case CommandKind.Pause or CommandKind.Resume:
                reply = new VmProtocol.Failed($"VM {_blueprint.Name} is {_state.ToString().ToLowerInvariant()}: the {command.Kind.ToString().ToLowerInvariant()} was overtaken", _state);
                break;
            case CommandKind.StartTracing:
                reply = VmProtocol.TracingStarted.Instance;
                break;
            default:
                reply = new VmProtocol.TracingStopped(command.Detached!);
                break;
        }

        foreach (var waiter in command.Waiters)
        {
            waiter.Tell(reply);
        }
    }

    private enum CommandKind
    {
        Pause,
        Resume,
        StartTracing,
        StopTracing,
    }

    /// <summary>A command in flight: the vCPU actors yet to confirm, and who gets the answer.</summary>
    private sealed class Command(CommandKind kind, HashSet<IActorRef> pending)
    {
        public CommandKind Kind { get; } = kind;

        public HashSet<IActorRef> Pending { get; } = pending;

        public List<IActorRef> Waiters { get; } = [];

        public VmTracer? Detached { get; set; }
    }
}
