using ActorVmm.Devices;

namespace ActorVmm.Actors.Endpoints;

/// <summary>Snapshots: the device's state is taken under the gate with its queue workers held off, and stays held until released.</summary>
public sealed partial class DeviceEndpoint
{
    private IBusDevice? _heldForSnapshot;

    /// <summary>
    /// Holds this device still for a snapshot of its paused VM: no new queue pass starts, running ones end (each after
    /// the request it serves: requests the guest queued and no worker took stay in the ring, served after a restore),
    /// then returns the device's saved state (null for a device without state). Release with <see cref="ReleaseAfterSnapshot"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The device is restarting or stopped: there is no state to take now.</exception>
    /// <param name="waitingRequests">Requests the guest queued that no worker took: in the snapshot, served after a restore.</param>
    public object? HoldForSnapshot(out int waitingRequests)
    {
        var device = _current ?? _failStopped;
        if (device is null || _stopped)
        {
            throw new InvalidOperationException($"device {Name} is {State.ToString().ToLowerInvariant()}: no snapshot now, try again");
        }

        QuiesceQueues(device);
        _heldForSnapshot = device;
        lock (_gate)
        {
            waitingRequests = (device as IQueueDevice)?.WaitingRequests ?? 0;
            return (device as IStatefulDevice)?.SaveState();
        }
    }

    /// <summary>Lets queue passes run again after <see cref="HoldForSnapshot"/>, and gives every queue a pass.</summary>
    public void ReleaseAfterSnapshot()
    {
        var device = Interlocked.Exchange(ref _heldForSnapshot, null);
        if (device is null)
        {
            return;
        }

        lock (_gate)
        {
            ResumeQueues(device);
        }

        KickAllQueues(device);
    }
}
