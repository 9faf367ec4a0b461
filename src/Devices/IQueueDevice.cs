namespace ActorVmm.Devices;

/// <summary>
/// A device whose queues are served off its register path by the runtime's queue workers (never two passes of one
/// queue at once), so no register access ever waits behind a request's I/O.
/// <para>
/// The rule every implementation and caller keeps: register accesses and everything else enter one at a time under
/// the endpoint's gate. A queue pass runs on that queue's worker WITHOUT the gate, between
/// <see cref="TryBeginQueuePass"/> and <see cref="EndQueuePass"/> (both under the gate), and touches only that
/// queue's ring and the model's state for that queue. Reset, restart, save and stop wait until no pass runs
/// (<see cref="Quiesce"/> makes running passes end after the request they are serving).
/// </para>
/// </summary>
public interface IQueueDevice
{
    /// <summary>Number of queues; valid indices are 0 to QueueCount - 1.</summary>
    int QueueCount { get; }

    /// <summary>Offset, in the device's bus range, of queue <paramref name="queue"/>'s notify register.</summary>
    ulong NotifyRegister(int queue);

    /// <summary>
    /// Where the device asks for a pass of a queue (a notify write of any width that exited to us, host input, a
    /// rate limiter refill, buffers left after a bounded pass): the runtime signals that queue's worker. Null: the
    /// pass runs at once on the caller (device-level tests).
    /// </summary>
    Action<int>? QueueKickHandler { get; set; }

    /// <summary>Under the gate: claims <paramref name="queue"/> for one pass; false when there is nothing to do.</summary>
    bool TryBeginQueuePass(int queue);

    /// <summary>On the queue's worker, without the gate, only after <see cref="TryBeginQueuePass"/> returned true.</summary>
    QueuePassResult RunQueuePass(int queue);

    /// <summary>Under the gate: publishes the pass (interrupt, DEVICE_NEEDS_RESET, a reset that waited for it).</summary>
    void EndQueuePass(int queue, QueuePassResult result);

    /// <summary>Under the gate: no new pass starts; running passes end after their current request.</summary>
    void Quiesce();

    /// <summary>Under the gate, with no pass running: passes may start again (after <see cref="Quiesce"/>).</summary>
    void Unquiesce();

    /// <summary>Under the gate: requests the guest made available that no pass has taken yet (all queues).</summary>
    int WaitingRequests => 0;
}

/// <summary>What a queue pass did: buffers to signal, a ring the guest corrupted, buffers still waiting.</summary>
public readonly record struct QueuePassResult(bool Signal, bool Broken, bool More)
{
    /// <summary>The pass threw (the device failed): nothing to publish beyond what the device saved.</summary>
    public static QueuePassResult Failed => new(Signal: false, Broken: false, More: false);
}
