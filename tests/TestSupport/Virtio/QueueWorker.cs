using ActorVmm.Devices;

namespace ActorVmm.TestSupport.Virtio;

/// <summary>What a queue's worker does on a kick (DeviceEndpoint.ServeQueue without the gate and supervision).</summary>
public static class QueueWorker
{
    /// <summary>One pass of <paramref name="queue"/>: claim, serve, publish. False when nothing was claimed.</summary>
    public static bool Pass(IQueueDevice device, int queue)
    {
        if (!device.TryBeginQueuePass(queue))
        {
            return false;
        }

        var result = QueuePassResult.Failed;
        try
        {
            result = device.RunQueuePass(queue);
        }
        finally
        {
            device.EndQueuePass(queue, result);
        }

        return true;
    }
}
