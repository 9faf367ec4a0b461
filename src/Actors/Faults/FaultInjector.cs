using System.Diagnostics;
using ActorVmm.Actors.Logging;
using ActorVmm.Actors.Settings;
using ActorVmm.Actors.Vm;
using ActorVmm.Devices;
using ActorVmm.Devices.Virtio;
using Akka.Event;

namespace ActorVmm.Actors.Faults;

/// <summary>
/// A VM's fault plans at run time: one <see cref="FaultSchedule"/> per plan (shared by every incarnation of a device,
/// so restarts don't reset counts), the <see cref="FaultCounters"/>, the clock and the log.
/// <para>Two places faults go in, both set up while the machine is built:</para>
/// <list type="bullet">
/// <item><see cref="AttachBlock"/>: virtio-blk per-REQUEST faults (crash, delay, io-error with an every / p / after
/// trigger, or none) through <see cref="VirtioBlockDevice.RequestHook"/>.</item>
/// <item><see cref="Wrap"/>: everything else, per register access, by decorating the blueprint's factory with a
/// <see cref="FaultInjectingDevice"/>.</item>
/// </list>
/// <para>
/// An injected virtio-blk crash throws after the request is popped and before it is served; the request is put back
/// (UndoPop), the device actor fails and the supervisor restores the saved transport state into a fresh transport,
/// which pops the same request again and retries it exactly once, exempt from every plan of the device (so a plan
/// cannot crash one request forever). Nothing of the request was applied before the crash, so the guest sees only
/// latency and a write is applied once. With restart-state = power-on the queues are reset and the request is lost
/// to the guest driver instead.
/// </para>
/// </summary>
public sealed class FaultInjector
{
    private readonly Dictionary<string, List<FaultSchedule>> _schedules = new(StringComparer.Ordinal);
    private readonly Dictionary<string, BlockRequestFaults> _blocks = new(StringComparer.Ordinal);
    private readonly Action<TimeSpan> _sleep;

    /// <param name="plans">The VM's fault plans (e.g. <c>settings.Faults</c>).</param>
    /// <param name="counters">Where faults are counted; a new one when null.</param>
    /// <param name="time">The clock for after=DURATION (tests: a manual one).</param>
    /// <param name="sleep">How a delay waits (tests: a recorder); default: spin below 1 ms, sleep above.</param>
    public FaultInjector(IEnumerable<FaultPlan> plans, FaultCounters? counters = null, TimeProvider? time = null, Action<TimeSpan>? sleep = null)
    {
        ArgumentNullException.ThrowIfNull(plans);
        Plans = plans.ToList();
        Counters = counters ?? new FaultCounters();
        _sleep = sleep ?? DefaultSleep;
        foreach (var plan in Plans)
        {
            if (!_schedules.TryGetValue(plan.Device, out var list))
            {
                _schedules[plan.Device] = list = [];
            }

            list.Add(new FaultSchedule(plan, time));
        }
    }

    public IReadOnlyList<FaultPlan> Plans { get; }

    public FaultCounters Counters { get; }

    /// <summary>The running schedules of <paramref name="device"/>'s plans (empty when it has none).</summary>
    public IReadOnlyList<FaultSchedule> SchedulesFor(string device) =>
        _schedules.TryGetValue(device, out var list) ? list : [];

    /// <summary>
    /// Checks every plan names a device of the VM, and io-error plans a virtio-blk (<see cref="AttachBlock"/>); call
    /// once the machine's devices are known.
    /// </summary>
    /// <exception cref="SettingsException">One line naming the bad plan and the devices there are.</exception>
    public void Validate(IEnumerable<string> deviceNames)
    {
        var names = deviceNames.ToHashSet(StringComparer.Ordinal);
        foreach (var plan in Plans)
        {
            if (!names.Contains(plan.Device))
            {
                var known = string.Join(", ", names.Order(StringComparer.Ordinal));
                throw new SettingsException($"fault '{plan}': this VM has no device {plan.Device} (devices: {known})", "actorvmm.faults");
            }

            if (plan.Kind == FaultKind.IoError && !_blocks.ContainsKey(plan.Device))
            {
                throw new SettingsException($"fault '{plan}': io-error needs a virtio-blk disk; {plan.Device} is not one", "actorvmm.faults");
            }
        }
    }

    /// <summary>
    /// Arms the per-request plans of virtio-blk <paramref name="device"/> on its backend (create the
    /// <see cref="VirtioBlockDevice"/> once per VM, outside the restartable factory: it owns the image file).
    /// Plans that are per request: crash, delay and io-error, unless triggered by offset=.
    /// </summary>
    public void AttachBlock(string device, VirtioBlockDevice block)
    {
        ArgumentNullException.ThrowIfNull(block);
        var schedules = SchedulesFor(device).Where(s => IsRequestLevel(s.Plan)).ToList();
        lock (_blocks)
        {
            // Call it again for every instance of the same disk (e.g. one re-opened on restart): the same state
            // (counts, the request a crash interrupted) then carries over to it.
            if (!_blocks.TryGetValue(device, out var existing))
            {
                _blocks[device] = existing = new BlockRequestFaults(device, schedules, this);
            }

            block.RequestHook = schedules.Count == 0 ? null : existing.OnRequest;
        }
    }

    /// <summary>
    /// The blueprint with its factory decorated by a <see cref="FaultInjectingDevice"/> when the device has
    /// register-level plans (unchanged otherwise). A device with a delay plan is mapped non-inline, so delays run on
    /// the device actor and a delayed read is subject to the vCPU's read timeout.
    /// </summary>
    public DeviceBlueprint Wrap(DeviceBlueprint blueprint)
    {
        ArgumentNullException.ThrowIfNull(blueprint);
        var all = SchedulesFor(blueprint.Name);
        if (all.Count == 0)
        {
            return blueprint;
        }

        var inner = blueprint.Factory;
        var name = blueprint.Name;
        var hasDelay = all.Any(s => s.Plan.Kind == FaultKind.Delay);
        return blueprint with
        {
            Inline = blueprint.Inline && !hasDelay,
            Factory = ctx =>
            {
                var device = inner(ctx);
                // Decided when the device is built: by then AttachBlock has run for every disk.
                var busLevel = all.Where(s => !(_blocks.ContainsKey(name) && IsRequestLevel(s.Plan))).ToList();
                return busLevel.Count == 0 ? device : FaultInjectingDevice.Create(device, name, busLevel, this);
            },
        };
    }

    /// <summary>Wraps every blueprint (see <see cref="Wrap(DeviceBlueprint)"/>).</summary>
    public IReadOnlyList<DeviceBlueprint> Wrap(IEnumerable<DeviceBlueprint> blueprints) => blueprints.Select(Wrap).ToList();

    /// <summary>Called on the device's thread for each injected fault (e.g. the tracer: <c>(d, k) => sink.Fault(d, FaultPlan.KindName(k))</c>).</summary>
    public Action<string, FaultKind>? FaultObserved { get; set; }

    /// <summary>Counts and logs one injected fault.</summary>
    internal void Injected(FaultPlan plan, ulong? offset)
    {
        Counters.CountInjected(plan.Device, plan.Kind);
        FaultObserved?.Invoke(plan.Device, plan.Kind);
        Log.ForDevice(plan.Device)
            .WithContext("FaultKind", FaultPlan.KindName(plan.Kind))
            .Info(
                offset is { } o ? "Injected {FaultKind} fault into {Device} at offset {Offset} ({Plan})" : "Injected {FaultKind} fault into {Device} ({Plan})",
                FaultPlan.KindName(plan.Kind),
                plan.Device,
                offset is { } at ? $"0x{at:x}" : plan.ToString(),
                plan.ToString());
    }

    internal void Retried(string device, ushort position)
    {
        Counters.CountRetried(device);
        Log.ForDevice(device)
            .Info("Retrying the {Device} request at ring position {Position} after an injected crash (exempt from fault plans)", device, position);
    }

    internal void Sleep(TimeSpan delay) => _sleep(delay);

    /// <summary>Where injected faults are logged: the VM's actor system once it runs (set before the VM starts).</summary>
    public ILoggingAdapter Log { get; set; } = NoLogger.Instance;

    private static bool IsRequestLevel(FaultPlan plan) =>
        plan.Kind is FaultKind.Crash or FaultKind.Delay or FaultKind.IoError && plan.Trigger.Kind != FaultTriggerKind.Offset;

    private static void DefaultSleep(TimeSpan delay)
    {
        if (delay >= TimeSpan.FromMilliseconds(1))
        {
            Thread.Sleep(delay);
            return;
        }

        var until = Stopwatch.GetTimestamp() + (long)(delay.TotalSeconds * Stopwatch.Frequency);
        var spin = new SpinWait();
        while (Stopwatch.GetTimestamp() < until)
        {
            spin.SpinOnce(sleep1Threshold: -1);
        }
    }
}
