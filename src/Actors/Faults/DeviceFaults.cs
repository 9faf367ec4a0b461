namespace ActorVmm.Actors.Faults;

/// <summary>
/// The schedules one device's accesses look at, as immutable arrays swapped whole: the fault injector publishes a new
/// array when a plan is added or removed (API threads), vCPU, actor and worker threads read the current one without a
/// lock. Register-level plans go to <see cref="Bus"/> (the <see cref="FaultInjectingDevice"/>); on a virtio-blk disk
/// the per-request ones go to <see cref="Requests"/> (<see cref="BlockRequestFaults"/>); on a NIC all but crash go to
/// <see cref="Frames"/> (<see cref="NetFrameFaults"/>). One per device name for the VM's life, shared by every
/// incarnation of the device.
/// </summary>
internal sealed class DeviceFaults(string device)
{
    private FaultSchedule[] _bus = [];
    private FaultSchedule[] _requests = [];
    private FaultSchedule[] _frames = [];

    public string Device { get; } = device;

    /// <summary>True once a virtio-blk backend was attached (<see cref="FaultInjector.AttachBlock"/>).</summary>
    public bool IsBlock { get; private set; }

    public FaultSchedule[] Bus => Volatile.Read(ref _bus);

    public FaultSchedule[] Requests => Volatile.Read(ref _requests);

    /// <summary>A NIC's per-frame plans (every kind but crash).</summary>
    public FaultSchedule[] Frames => Volatile.Read(ref _frames);

    /// <summary>Publishes <paramref name="schedules"/> (this device's, in id order), split by level. Under the injector's lock.</summary>
    public void Publish(IEnumerable<FaultSchedule> schedules, bool isBlock, bool isNet = false)
    {
        IsBlock = isBlock;
        var all = schedules.ToArray();
        if (isNet)
        {
            Volatile.Write(ref _bus, all.Where(s => s.Plan.Kind == FaultKind.Crash).ToArray());
            Volatile.Write(ref _frames, all.Where(s => s.Plan.Kind != FaultKind.Crash).ToArray());
            Volatile.Write(ref _requests, []);
            return;
        }

        Volatile.Write(ref _bus, all.Where(s => !(isBlock && FaultInjector.IsRequestLevel(s.Plan))).ToArray());
        Volatile.Write(ref _requests, isBlock ? all.Where(s => FaultInjector.IsRequestLevel(s.Plan)).ToArray() : []);
        Volatile.Write(ref _frames, []);
    }
}
