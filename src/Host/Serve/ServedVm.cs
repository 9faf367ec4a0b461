using ActorVmm.Actors;
using ActorVmm.Actors.Endpoints;
using ActorVmm.Actors.Settings;
using ActorVmm.Actors.Tracing;
using ActorVmm.Actors.Vm;
using ActorVmm.Host.Composition;
using ActorVmm.Host.Settings;

namespace ActorVmm.Host.Serve;

/// <summary>
/// One VM of a serve process: the machine built at create, its actor once started, its console ring, and how it
/// ended. Lifecycle changes go one at a time through <see cref="Gate"/>; readers see consistent volatile fields.
/// </summary>
internal sealed class ServedVm
{
    private readonly TaskCompletionSource<VmInfo> _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile string _state = VmStates.Created;
    private volatile VmExitInfo? _exit;

    public ServedVm(string id, ActorVmmSettings settings, BuiltVm machine, ConsoleRing console)
    {
        Id = id;
        Settings = settings;
        Machine = machine;
        Console = console;
    }

    public string Id { get; }

    public ActorVmmSettings Settings { get; }

    public BuiltVm Machine { get; }

    public ConsoleRing Console { get; }

    /// <summary>Lifecycle operations of this VM, one at a time.</summary>
    public SemaphoreSlim Gate { get; } = new(1, 1);

    public VmHandle? Handle { get; set; }

    /// <summary>The exit tracer attached through the API, if any.</summary>
    public VmTracer? Tracer { get; set; }

    public TracingSettings? TraceSettings { get; set; }

    /// <summary>The statistics of the last trace window that ended (null: none yet).</summary>
    public ExitStatistics? LastStatistics { get; set; }

    public string State
    {
        get => _state;
        set
        {
            lock (_stopped)
            {
                if (_state != VmStates.Stopped)
                {
                    _state = value;
                }
            }
        }
    }

    /// <summary>Moves from <paramref name="from"/> to <paramref name="to"/> unless the VM got elsewhere meanwhile (e.g. stopped).</summary>
    public bool TryTransition(string from, string to)
    {
        lock (_stopped)
        {
            if (_state != from)
            {
                return false;
            }

            _state = to;
            return true;
        }
    }

    public IReadOnlyList<DeviceEndpoint> Endpoints => Machine.Blueprint.Bus?.Endpoints ?? [];

    public Task<VmInfo> Stopped => _stopped.Task;

    public VmInfo Info => new(Id, _state, _exit);

    /// <summary>Marks the VM stopped with <paramref name="reason"/> (once).</summary>
    public VmInfo MarkStopped(VmStopReason reason)
    {
        lock (_stopped)
        {
            _exit ??= new VmExitInfo(ReasonName(reason.Kind), reason.ExitCode, reason.Message);
            _state = VmStates.Stopped;
        }

        Console.Complete();
        var info = Info;
        _stopped.TrySetResult(info);
        return info;
    }

    public DeviceEndpoint Endpoint(string device) =>
        Endpoints.FirstOrDefault(e => e.Name == device)
        ?? throw VmServiceException.NotFound($"VM {Id} has no device {device} (devices: {string.Join(", ", Endpoints.Select(e => e.Name))})");

    public static string ReasonName(VmStopReasonKind kind) => kind switch
    {
        VmStopReasonKind.PowerOff => "poweroff",
        VmStopReasonKind.Reset => "reset",
        VmStopReasonKind.GuestPanic => "guest-panic",
        VmStopReasonKind.TripleFault => "triple-fault",
        VmStopReasonKind.InternalError => "internal-error",
        VmStopReasonKind.DeviceFailure => "device-failure",
        VmStopReasonKind.HostRequest => "host-request",
        _ => kind.ToString().ToLowerInvariant(),
    };
}
