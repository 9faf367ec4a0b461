namespace ActorVmm.Devices;

/// <summary>
/// A device whose queues can be kicked directly, e.g. from one ioeventfd per queue, instead of by re-encoding the
/// kick as a write to its notify register. A kick does exactly what the guest's notify write for that queue does.
/// </summary>
public interface IQueueNotifiable
{
    /// <summary>Number of queues; valid indices are 0 to QueueCount - 1.</summary>
    int QueueCount { get; }

    /// <summary>Offset, in the device's bus range, of the notify register a kick of queue <paramref name="queueIndex"/> stands for.</summary>
    ulong NotifyRegister(int queueIndex);

    /// <summary>Queue <paramref name="queueIndex"/> was kicked. An index the device lacks is counted, never thrown.</summary>
    void NotifyQueue(int queueIndex);
}
