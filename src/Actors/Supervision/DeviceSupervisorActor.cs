using ActorVmm.Actors.Endpoints;
using ActorVmm.Actors.Logging;
using ActorVmm.Actors.Settings;
using ActorVmm.Actors.Vm;
using Akka.Actor;
using Akka.Event;

namespace ActorVmm.Actors.Supervision;

/// <summary>
/// Parent of a VM's device actors (one-for-one). Its decider comes from <see cref="SupervisionSettings.Decider"/>
/// (exception type → Restart / Resume / Stop / Escalate) and each device has a sliding-window restart budget
/// (<see cref="SupervisionSettings.MaxRestarts"/> within <see cref="SupervisionSettings.Within"/>). Beyond the
/// budget — or when a device cannot even be built — <see cref="SupervisionSettings.OnBudgetExceeded"/> applies:
/// stop the device (its endpoint then answers all-ones and drops writes, counted) or stop the VM
/// (<see cref="DeviceSupervisorProtocol.DeviceFailed"/> to the report target, with a
/// <see cref="VmStopReasonKind.DeviceFailure"/> reason). Every failure and decision is logged with the device name
/// and counted on its endpoint.
/// </summary>
public sealed class DeviceSupervisorActor : UntypedActor
{
    private readonly IReadOnlyList<DeviceSupervisorProtocol.DeviceSpec> _devices;
    private readonly SupervisionSettings _settings;
    private readonly IActorRef? _reportTo;
    private readonly DeciderTable _decider;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<string, DeviceEndpoint> _endpointsByActor = [];
    private readonly Dictionary<string, RestartBudget> _budgets = [];

    public DeviceSupervisorActor(IReadOnlyList<DeviceSupervisorProtocol.DeviceSpec> devices, SupervisionSettings settings, IActorRef? reportTo)
    {
        _devices = devices;
        _settings = settings;
        _reportTo = reportTo;
        _decider = new DeciderTable(settings.Decider);
    }

    /// <param name="reportTo">Who gets <see cref="DeviceSupervisorProtocol.DeviceFailed"/> (the VM actor); defaults to the parent.</param>
    public static Props Props(IReadOnlyList<DeviceSupervisorProtocol.DeviceSpec> devices, SupervisionSettings settings, IActorRef? reportTo = null) =>
        Akka.Actor.Props.Create(() => new DeviceSupervisorActor(devices, settings, reportTo));

    /// <summary>
    /// Optional dispatcher for device actors (e.g. <c>type = PinnedDispatcher</c>); when it is not configured they run
    /// on the default dispatcher. Only the posted path (a busy device) uses it: idle devices run inline on the vCPU thread.
    /// </summary>
    public const string DispatcherId = "actorvmm.device-dispatcher";

    /// <summary>The actor name used for a device (its name, escaped to what actor paths allow).</summary>
    public static string ActorName(string device) => Uri.EscapeDataString(device);

    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(Decide, loggingEnabled: false);

    protected override void PreStart()
    {
        foreach (var spec in _devices)
        {
            var name = ActorName(spec.Endpoint.Name);
            var props = DeviceActor.Props(spec.Endpoint, spec.Factory, _settings.RestartState, spec.Interrupt);
            if (Context.System.Dispatchers.HasDispatcher(DispatcherId))
            {
                props = props.WithDispatcher(DispatcherId);
            }

            var child = Context.ActorOf(props, name);
            spec.Endpoint.Bind(child);
            _endpointsByActor[name] = spec.Endpoint;
            _budgets[name] = new RestartBudget(_settings.MaxRestarts, _settings.Within);
        }

        Context.Parent.Tell(DeviceSupervisorProtocol.Started.Instance);
    }

    // Children are stopped with us; don't let a restart of the supervisor rebuild them twice.
    protected override void PreRestart(Exception reason, object message)
    {
    }

    protected override void PostRestart(Exception reason)
    {
    }

    protected override void OnReceive(object message) => Unhandled(message);

    private Directive Decide(Exception failure)
    {
        var (actorName, cause, initFailure) = failure switch
        {
            DeviceFailureException d => (ActorName(d.Device), d.Cause, false),
            ActorInitializationException a => (a.Actor?.Path.Name, Unwrap(a), true),
            _ => ((string?)null, failure, false),
        };

        if (actorName is null || !_endpointsByActor.TryGetValue(actorName, out var endpoint))
        {
            _log.Error(failure, "A device supervisor child failed outside a device model; escalating");
            return Directive.Escalate;
        }

        var device = endpoint.Name;
        if (initFailure)
        {
            endpoint.CountFailure();
            _log.Error(cause, "Device {0} could not be built", device);
            return BudgetExceeded(endpoint, $"{device} could not be built: {cause.GetType().Name}: {cause.Message}");
        }

        var log = _log.ForDevice(device);
        var action = _decider.Decide(cause);
        switch (action)
        {
            case SupervisionAction.Resume:
                log.Warning("Device {0} failed ({1}: {2}); resuming it", device, cause.GetType().Name, cause.Message);

                // Put it back in service now rather than at its next posted access (its state shows Running again).
                Context.Child(actorName).Tell(DeviceProtocol.Reinstall.Instance);
                return Directive.Resume;

            case SupervisionAction.Stop:
                log.Error(cause, "Device {0} failed; stopping it (decider: Stop)", device);
                return Directive.Stop;

            case SupervisionAction.Escalate:
                log.Error(cause, "Device {0} failed; escalating to the VM (decider: Escalate)", device);
                return Directive.Escalate;

            default:
                var budget = _budgets[actorName];
                if (budget.TryConsume())
                {
                    log.Error(cause, "Device {0} failed; restarting it ({1} of {2} restarts within {3})", device, budget.FailuresInWindow, _settings.MaxRestarts, RestartBudget.Format(_settings.Within));
                    return Directive.Restart;
                }

                var message = $"{device} failed {budget.FailuresInWindow} times within {RestartBudget.Format(_settings.Within)}: {cause.GetType().Name}: {cause.Message}";
                log.Error(cause, "Device {0} exceeded its restart budget: {1}", device, message);
                return BudgetExceeded(endpoint, message);
        }
    }

    private static Exception Unwrap(Exception failure)
    {
        var cause = failure;
        // Akka wraps a constructor exception in TypeLoadException / TargetInvocationException.
        while (cause is ActorInitializationException or System.Reflection.TargetInvocationException or TypeLoadException && cause.InnerException is not null)
        {
            cause = cause.InnerException;
        }

        return cause;
    }

    private Directive BudgetExceeded(DeviceEndpoint endpoint, string message)
    {
        if (_settings.OnBudgetExceeded == BudgetExceededPolicy.StopVm)
        {
            var target = _reportTo ?? Context.Parent;
            target.Tell(new DeviceSupervisorProtocol.DeviceFailed(endpoint.Name, new VmStopReason(VmStopReasonKind.DeviceFailure, message)));
        }
        else if (endpoint.TryFailStop())
        {
            // virtio: DEVICE_NEEDS_RESET and a config interrupt; registers keep answering, queues are no longer served.
            _log.ForDevice(endpoint.Name).Warning("Device {0} is fail-stopped: the guest sees DEVICE_NEEDS_RESET; its queues are no longer served", endpoint.Name);
        }
        else
        {
            _log.ForDevice(endpoint.Name).Warning("Device {0} is stopped; its registers now read all-ones and ignore writes", endpoint.Name);
        }

        endpoint.MarkStopped();
        return Directive.Stop;
    }
}
