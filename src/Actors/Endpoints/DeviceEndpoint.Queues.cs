using ActorVmm.Devices;

namespace ActorVmm.Actors.Endpoints;

/// <summary>Queue passes: each queue's worker serves requests off the gate; the endpoint claims, publishes and quiesces.</summary>
public sealed partial class DeviceEndpoint
{
    private readonly ManualResetEventSlim _passesIdle = new(true);
    private int _activePasses;

    /// <summary>
    /// Wakes queue N's worker (set by the VM's queue workers when they start). The endpoint kicks every queue when an
    /// instance goes live, since kicks that arrived while the device restarted found no device.
    /// </summary>
    public Action<int>? QueueKick { get; set; }

    /// <summary>
    /// Queue <paramref name="queue"/> was kicked: called on that queue's worker. Claims a pass under the gate, serves
    /// without it, publishes under it. A device failure goes to the actor like any other. Never throws.
    /// </summary>
    public void ServeQueue(int queue)
    {
        IQueueDevice device;
        lock (_gate)
        {
            if ((_current ?? _failStopped) is not IQueueDevice live || _stopped)
            {
                return;
            }

            try
            {
                if (!live.TryBeginQueuePass(queue))
                {
                    return;
                }
            }
            catch (Exception ex)
            {
                // A crash fault on the kick: nothing was claimed.
                if (ReferenceEquals(live, _current))
                {
                    CrashedInline(ex);
                    _current = null;
                }

                return;
            }

            device = live;
            if (_activePasses++ == 0)
            {
                _passesIdle.Reset();
            }
        }

        var result = QueuePassResult.Failed;
        Exception? failure = null;
        try
        {
            result = device.RunQueuePass(queue);
        }
        catch (Exception ex)
        {
            failure = ex;
        }

        lock (_gate)
        {
            try
            {
                device.EndQueuePass(queue, result);
            }
            catch (Exception ex)
            {
                failure ??= ex;
            }

            if (failure is not null && ReferenceEquals(device, _current))
            {
                // The restart waits for this pass to end (below) before it saves the device's state.
                CrashedInline(failure);
                _current = null;
                device.Quiesce();
            }
            else if (failure is not null)
            {
                CountFailure(failure);
            }

            if (--_activePasses == 0)
            {
                _passesIdle.Set();
            }
        }
    }

    /// <summary>
    /// Stops new passes of the current instance and waits until running ones end (each after the request it is
    /// serving: at most one host I/O per queue). Called by the actor before it saves or replaces the device.
    /// </summary>
    internal void QuiesceQueues(IBusDevice device)
    {
        if (device is not IQueueDevice queues)
        {
            return;
        }

        lock (_gate)
        {
            queues.Quiesce();
        }

        _passesIdle.Wait();
    }

    /// <summary>Lets passes of <paramref name="device"/> start again after <see cref="QuiesceQueues"/> (under the gate).</summary>
    internal static void ResumeQueues(IBusDevice device) => (device as IQueueDevice)?.Unquiesce();

    private void KickAllQueues(IBusDevice device)
    {
        var kick = QueueKick;
        if (kick is null || device is not IQueueDevice queues)
        {
            return;
        }

        for (var q = 0; q < queues.QueueCount; q++)
        {
            kick(q);
        }
    }
}
