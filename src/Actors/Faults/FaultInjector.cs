using System.Diagnostics;
using ActorVmm.Actors.Endpoints;
using ActorVmm.Actors.Logging;
using ActorVmm.Actors.Net;
using ActorVmm.Actors.Settings;
using ActorVmm.Actors.Vm;
using ActorVmm.Devices;
using ActorVmm.Devices.Virtio;
using Akka.Event;

namespace ActorVmm.Actors.Faults;

/// <summary>
/// A VM's fault plans at run time: one <see cref="FaultSchedule"/> per plan (shared by every incarnation of a device,
/// so restarts don't reset counts), the <see cref="FaultCounters"/>, the clock and the log.
/// <para>Two places faults go in, both set up while the machine is built, for every device:</para>
/// <list type="bullet">
/// <item><see cref="AttachBlock"/>: virtio-blk per-REQUEST faults (crash, delay, io-error with an every / p / after
/// trigger, or none) through <see cref="VirtioBlockDevice.RequestHook"/>.</item>
/// <item><see cref="AttachNet"/>: a NIC's per-FRAME faults (drop, delay, corrupt, duplicate, reorder, rate, partition)
/// on the frames its <see cref="NetPort"/> sends (partition: both directions); a crash stays per register access.</item>
/// <item><see cref="Wrap"/>: everything else, per register access, by decorating the blueprint's factory with a
/// <see cref="FaultInjectingDevice"/>.</item>
/// </list>
/// <para>
/// Plans can be added (<see cref="Add"/>) and removed (<see cref="Remove"/>) while the VM runs, from any thread: each
/// device reads its current schedules from an immutable array the injector swaps, so a change takes effect on the
/// device's next access or request, and a device without plans pays one empty-array check. Every plan, those given at
/// start included, has an id (<c>f1</c>, <c>f2</c>, ... in the order they were armed) and counts its fires
/// (<see cref="Active"/>).
/// </para>
/// <para>
/// A delay added at run time to a device mapped inline (one without a delay plan at start) runs on the thread of the
/// access, often a vCPU thread: it is cut to <see cref="ReadTimeout"/> and ends early when that vCPU's VM pauses or
/// stops, so it bounds the vCPU as a posted read's timeout would. A device with a delay plan at start is mapped
/// non-inline, as before: its delays run on its actor.
/// </para>
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
    private readonly Lock _sync = new();
    private readonly List<(string Id, FaultSchedule Schedule)> _armed = [];
    private readonly Dictionary<string, DeviceFaults> _devices = new(StringComparer.Ordinal);
    private readonly Dictionary<string, BlockRequestFaults> _blocks = new(StringComparer.Ordinal);
    private readonly Dictionary<string, NetFrameFaults> _nets = new(StringComparer.Ordinal);
    private readonly HashSet<string> _deviceNames = new(StringComparer.Ordinal);
    private readonly TimeProvider? _time;
    private readonly Action<TimeSpan>? _sleep;
    private int _lastId;

    /// <param name="plans">The VM's fault plans at start (e.g. <c>settings.Faults</c>); ids f1, f2, ... in this order.</param>
    /// <param name="counters">Where faults are counted; a new one when null.</param>
    /// <param name="time">The clock for after=DURATION, and the timers of a NIC's delay, reorder and rate faults (tests: a manual one).</param>
    /// <param name="sleep">How a delay waits (tests: a recorder); default: spin below 1 ms, sleep above.</param>
    public FaultInjector(IEnumerable<FaultPlan> plans, FaultCounters? counters = null, TimeProvider? time = null, Action<TimeSpan>? sleep = null)
    {
        ArgumentNullException.ThrowIfNull(plans);
        Plans = plans.ToList();
        Counters = counters ?? new FaultCounters();
        _time = time;
        _sleep = sleep;
        lock (_sync)
        {
            foreach (var plan in Plans)
            {
                Arm(plan);
            }

            foreach (var device in Plans.Select(p => p.Device).Distinct(StringComparer.Ordinal))
            {
                Publish(device);
            }
        }
    }

    /// <summary>The plans given at start (<see cref="Active"/> has the ones armed now).</summary>
    public IReadOnlyList<FaultPlan> Plans { get; }

    public FaultCounters Counters { get; }

    /// <summary>
    /// The longest a delay runs on the thread of an inline access (set it to the VM's
    /// <see cref="Settings.DeviceSettings.ReadTimeout"/>; default 1 s).
    /// </summary>
    public TimeSpan ReadTimeout { get; init; } = Settings.DeviceSettings.Default.ReadTimeout;

    /// <summary>The plans armed now, in id order, each with how many times it fired.</summary>
    public IReadOnlyList<ActiveFault> Active
    {
        get
        {
            lock (_sync)
            {
                return _armed.Select(a => new ActiveFault(a.Id, a.Schedule.Plan, a.Schedule.Fired)).ToList();
            }
        }
    }

    /// <summary>The running schedules of <paramref name="device"/>'s plans now armed, in id order (empty when it has none).</summary>
    public IReadOnlyList<FaultSchedule> SchedulesFor(string device)
    {
        lock (_sync)
        {
            return _armed.Where(a => a.Schedule.Plan.Device == device).Select(a => a.Schedule).ToList();
        }
    }

    /// <summary>
    /// Checks every plan names a device of the VM, io-error plans a virtio-blk (<see cref="AttachBlock"/>), and the
    /// NIC-only kinds and keys (duplicate, reorder, rate, partition, bits=, jitter=) a NIC (<see cref="AttachNet"/>),
    /// which takes neither offset= nor mask=; call once the machine's devices are known. The names are also the devices <see cref="Add"/> accepts.
    /// </summary>
    /// <exception cref="SettingsException">One line naming the bad plan and the devices there are.</exception>
    public void Validate(IEnumerable<string> deviceNames)
    {
        lock (_sync)
        {
            _deviceNames.UnionWith(deviceNames);
            foreach (var plan in Plans)
            {
                Check(plan);
            }
        }
    }

    /// <summary>
    /// Arms <paramref name="plan"/> on its device, effective from the device's next access or virtio request (an
    /// <c>after=</c> trigger counts from now). The device must be one of the VM's (<see cref="Validate"/>, or a
    /// blueprint given to <see cref="Wrap"/>); io-error needs a virtio-blk disk. Thread-safe.
    /// </summary>
    /// <returns>The plan's id (<c>f3</c>), for <see cref="Remove"/> and <see cref="Active"/>.</returns>
    /// <exception cref="SettingsException">Unknown device, io-error on a non-disk, a plan that does not fit a NIC or a non-NIC (one line); nothing is armed then.</exception>
    public string Add(FaultPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        lock (_sync)
        {
            Check(plan);
            var id = Arm(plan);
            Publish(plan.Device);
            return id;
        }
    }

    /// <summary>Disarms plan <paramref name="id"/> (from the device's next access); false when no such plan is armed. Thread-safe.</summary>
    public bool Remove(string id)
    {
        lock (_sync)
        {
            var index = _armed.FindIndex(a => string.Equals(a.Id, id, StringComparison.Ordinal));
            if (index < 0)
            {
                return false;
            }

            var device = _armed[index].Schedule.Plan.Device;
            _armed.RemoveAt(index);
            Publish(device);
            return true;
        }
    }

    /// <summary>
    /// Attaches the per-request faults of virtio-blk <paramref name="device"/> to its backend (create the
    /// <see cref="VirtioBlockDevice"/> once per VM, outside the restartable factory: it owns the image file). The hook
    /// is always installed, so plans added later apply. Plans that are per request: crash, delay and io-error, unless
    /// triggered by offset=.
    /// </summary>
    public void AttachBlock(string device, VirtioBlockDevice block)
    {
        ArgumentNullException.ThrowIfNull(block);
        lock (_sync)
        {
            _deviceNames.Add(device);

            // Call it again for every instance of the same disk (e.g. one re-opened on restart): the same state
            // (counts, the request a crash interrupted) then carries over to it.
            if (!_blocks.TryGetValue(device, out var existing))
            {
                _blocks[device] = existing = new BlockRequestFaults(device, FaultsOf(device), this);
                Publish(device);
            }

            block.RequestHook = existing.OnRequest;
        }
    }

    /// <summary>
    /// Attaches the per-frame faults of NIC <paramref name="device"/> to its port (one per VM, created outside the
    /// restartable device): every plan of the NIC but crash applies to the frames the port sends, partition to both
    /// directions, now and for plans added later. Call before <see cref="Validate"/>, as <see cref="AttachBlock"/>.
    /// Delayed, reordered and shaped frames wait on timers of the injector's clock, never on the caller's thread.
    /// </summary>
    public void AttachNet(string device, NetPort port)
    {
        ArgumentNullException.ThrowIfNull(port);
        lock (_sync)
        {
            _deviceNames.Add(device);
            if (!_nets.TryGetValue(device, out var faults))
            {
                _nets[device] = faults = new NetFrameFaults(FaultsOf(device), this, _time ?? TimeProvider.System);
                Publish(device);
            }

            faults.Bind(port);
        }
    }

    /// <summary>
    /// The blueprint with its factory decorated by a <see cref="FaultInjectingDevice"/> (every device, so a plan can be
    /// added to any of them while the VM runs). A device with a delay plan at start is mapped non-inline, so delays
    /// run on the device actor and a delayed read is subject to the vCPU's read timeout; the others keep their mapping.
    /// </summary>
    public DeviceBlueprint Wrap(DeviceBlueprint blueprint)
    {
        ArgumentNullException.ThrowIfNull(blueprint);
        var name = blueprint.Name;
        DeviceFaults faults;
        lock (_sync)
        {
            _deviceNames.Add(name);
            faults = FaultsOf(name);
        }

        var inner = blueprint.Factory;
        bool isNet;
        lock (_sync)
        {
            isNet = _nets.ContainsKey(name);
        }

        // A NIC's delays hold frames on timers, not register accesses: its mapping stays as it is.
        var inline = blueprint.Inline && (isNet || !Plans.Any(p => p.Device == name && p.Kind == FaultKind.Delay));
        return blueprint with
        {
            Inline = inline,
            Factory = ctx => FaultInjectingDevice.Create(inner(ctx), name, faults, this, boundedDelays: inline),
        };
    }

    /// <summary>Wraps every blueprint (see <see cref="Wrap(DeviceBlueprint)"/>).</summary>
    public IReadOnlyList<DeviceBlueprint> Wrap(IEnumerable<DeviceBlueprint> blueprints) => blueprints.Select(Wrap).ToList();

    /// <summary>Called on the device's thread for each injected fault (e.g. the tracer: <c>(d, k) => sink.Fault(d, FaultPlan.KindName(k))</c>).</summary>
    public Action<string, FaultKind>? FaultObserved { get; set; }

    /// <summary>
    /// Counts and logs one injected fault. <paramref name="perFrame"/> (a NIC's frame faults, which can fire thousands
    /// of times a second) logs at debug level; the counters and <see cref="FaultObserved"/> see every one.
    /// </summary>
    internal void Injected(FaultPlan plan, ulong? offset, bool perFrame = false)
    {
        Counters.CountInjected(plan.Device, plan.Kind);
        FaultObserved?.Invoke(plan.Device, plan.Kind);
        if (perFrame && !Log.IsDebugEnabled)
        {
            return;
        }

        var log = Log.ForDevice(plan.Device).WithContext("FaultKind", FaultPlan.KindName(plan.Kind));
        if (perFrame)
        {
            log.Debug("Injected {FaultKind} fault into {Device} ({Plan})", FaultPlan.KindName(plan.Kind), plan.Device, plan.ToString());
            return;
        }

        log.Info(
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

    /// <summary>
    /// Waits out a delay fault. <paramref name="bounded"/> (an inline-mapped device, maybe on a vCPU thread): at most
    /// <see cref="ReadTimeout"/>, and no longer once the thread's VM pauses or stops (<see cref="ReplySlot.Interrupt"/>).
    /// </summary>
    internal void Sleep(TimeSpan delay, bool bounded = false)
    {
        if (bounded && delay > ReadTimeout)
        {
            delay = ReadTimeout;
        }

        if (_sleep is not null)
        {
            _sleep(delay);
        }
        else if (bounded && delay >= TimeSpan.FromMilliseconds(1))
        {
            SleepUnlessInterrupted(delay);
        }
        else
        {
            DefaultSleep(delay);
        }
    }

    /// <summary>The per-device schedules (the decorator's and the disk hook's view).</summary>
    internal DeviceFaults FaultsOf(string device)
    {
        lock (_sync)
        {
            if (!_devices.TryGetValue(device, out var faults))
            {
                _devices[device] = faults = new DeviceFaults(device);
            }

            return faults;
        }
    }

    /// <summary>Where injected faults are logged: the VM's actor system once it runs (set before the VM starts).</summary>
    public ILoggingAdapter Log { get; set; } = NoLogger.Instance;

    internal static bool IsRequestLevel(FaultPlan plan) =>
        plan.Kind is FaultKind.Crash or FaultKind.Delay or FaultKind.IoError && plan.Trigger.Kind != FaultTriggerKind.Offset;

    /// <summary>Under <see cref="_sync"/>: a new schedule for <paramref name="plan"/> with the next id (not yet published).</summary>
    private string Arm(FaultPlan plan)
    {
        var id = $"f{++_lastId}";
        _armed.Add((id, new FaultSchedule(plan, _time)));
        return id;
    }

    /// <summary>Under <see cref="_sync"/>: publishes <paramref name="device"/>'s armed schedules to its accesses.</summary>
    private void Publish(string device) =>
        FaultsOf(device).Publish(_armed.Where(a => a.Schedule.Plan.Device == device).Select(a => a.Schedule), _blocks.ContainsKey(device), _nets.ContainsKey(device));

    /// <summary>Under <see cref="_sync"/>: the plan names a known device, io-error a disk, the NIC-only kinds and keys a NIC.</summary>
    private void Check(FaultPlan plan)
    {
        if (!_deviceNames.Contains(plan.Device))
        {
            var known = string.Join(", ", _deviceNames.Order(StringComparer.Ordinal));
            throw new SettingsException($"fault '{plan}': this VM has no device {plan.Device} (devices: {known})", "actorvmm.faults");
        }

        if (plan.Kind == FaultKind.IoError && !_blocks.ContainsKey(plan.Device))
        {
            throw new SettingsException($"fault '{plan}': io-error needs a virtio-blk disk; {plan.Device} is not one", "actorvmm.faults");
        }

        if (_nets.ContainsKey(plan.Device))
        {
            if (plan.Trigger.Kind == FaultTriggerKind.Offset)
            {
                throw new SettingsException($"fault '{plan}': {plan.Device} is a NIC, its faults are per frame; offset= does not apply (use every, p or after)", "actorvmm.faults");
            }

            if (plan.Kind == FaultKind.Corrupt && plan.Mask != 1)
            {
                throw new SettingsException($"fault '{plan}': {plan.Device} is a NIC; its corrupt flips bits=N of a frame, mask= does not apply", "actorvmm.faults");
            }
        }
        else if (FaultPlan.IsNetOnly(plan.Kind) || plan.Bits > 0 || plan.Jitter > TimeSpan.Zero)
        {
            var what = FaultPlan.IsNetOnly(plan.Kind) ? FaultPlan.KindName(plan.Kind) : plan.Bits > 0 ? "bits=" : "jitter=";
            throw new SettingsException($"fault '{plan}': {what} applies to a NIC's frames; {plan.Device} is not a NIC", "actorvmm.faults");
        }
    }

    private static void SleepUnlessInterrupted(TimeSpan delay)
    {
        var slot = ReplySlot.Current;
        var until = Stopwatch.GetTimestamp() + (long)(delay.TotalSeconds * Stopwatch.Frequency);
        while (!slot.Interrupted)
        {
            var left = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), until);
            if (left <= TimeSpan.Zero)
            {
                return;
            }

            Thread.Sleep(left < TimeSpan.FromMilliseconds(50) ? left : TimeSpan.FromMilliseconds(50));
        }
    }

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
