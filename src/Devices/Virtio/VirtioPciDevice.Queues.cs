using System.Runtime.CompilerServices;
using ActorVmm.Kvm.Memory;

namespace ActorVmm.Devices.Virtio;

/// <summary>The transport's queue side: kicks, activation, serving a queue and signalling used buffers.</summary>
public sealed partial class VirtioPciDevice
{
    /// <summary>Passes over a queue per notification before the rest is left to <see cref="QueueKickHandler"/>.</summary>
    private const int MaxRounds = 4;

    /// <summary>
    /// Where device-initiated work goes (console input arrived, rate limiter refilled, a queue still had buffers
    /// after the bounded passes of one notification). Null: processed at once on the calling thread under the lock
    /// (and a queue is served until it is empty). An actor sets this to post itself a message and later call
    /// <see cref="NotifyQueue"/> from its own thread.
    /// </summary>
    public Action<int>? QueueKickHandler { get; set; }

    public int QueueCount => _queues.Length;

    /// <summary>Offset of queue <paramref name="queueIndex"/>'s notify register inside BAR 0.</summary>
    ulong IQueueNotifiable.NotifyRegister(int queueIndex) => NotifyOffsetOf(queueIndex);

    /// <summary>Offset of queue <paramref name="queueIndex"/>'s notify register in BAR 0.</summary>
    public static ulong NotifyOffsetOf(int queueIndex) =>
        VirtioPciLayout.NotifyOffset + ((ulong)queueIndex * VirtioPciLayout.NotifyOffMultiplier);

    /// <summary>Guest-physical address whose write notifies queue <paramref name="queueIndex"/> (register an ioeventfd here).</summary>
    public ulong NotifyAddress(int queueIndex)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(queueIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(queueIndex, _queues.Length);
        return BarAddress + NotifyOffsetOf(queueIndex);
    }

    /// <summary>A copy of queue <paramref name="index"/>'s state (for diagnostics and tests).</summary>
    public VirtqueueState GetQueueState(int index)
    {
        lock (_sync)
        {
            return _queues[index].SaveState();
        }
    }

    /// <summary>
    /// Queue <paramref name="queueIndex"/> was kicked (an ioeventfd, or the device asking for another pass): the same
    /// as the guest's notify write for it. An index the device lacks counts as an unhandled write, like a notify
    /// write past the last queue.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void NotifyQueue(int queueIndex)
    {
        lock (_sync)
        {
            NotifyQueueLocked(queueIndex);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void NotifyQueueLocked(int queueIndex)
    {
        if ((uint)queueIndex >= (uint)_queues.Length)
        {
            Stats.CountUnhandledWrite();
            return;
        }

        // Buffers made available before DRIVER_OK are served on activation.
        if (_activated)
        {
            ProcessQueueLocked(queueIndex);
        }
    }

    private void ActivateLocked()
    {
        var context = new VirtioContext(_memory, _common.DriverFeatures, RequestProcessing, SignalConfigChanged);
        _device.Activate(context);
        _activated = true;
        // Serve whatever was made available before DRIVER_OK (or while a restarted actor was down).
        for (var i = 0; i < _queues.Length; i++)
        {
            if (_queues[i].Ready)
            {
                ProcessQueueLocked(i);
            }
        }
    }

    private void RequestProcessing(int queueIndex)
    {
        var handler = QueueKickHandler;
        if (handler is not null)
        {
            handler(queueIndex);
        }
        else
        {
            NotifyQueue(queueIndex);
        }
    }

    private void SignalConfigChanged()
    {
        lock (_sync)
        {
            _common.NextGeneration();
            _interrupts.SignalConfig(_common.ConfigVector);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ProcessQueueLocked(int index)
    {
        var q = _queues[index];
        if (_failStopped)
        {
            return;
        }

        if (!q.Ready || q.Broken)
        {
            if (!q.Ready)
            {
                Stats.CountGuestError();
            }

            return;
        }

        var errorsBefore = q.GuestErrors;
        var more = false;
        try
        {
            // Bounded: a device does a bounded amount per call; look again a few times if the driver raced us.
            for (var round = 0; round < MaxRounds || QueueKickHandler is null; round++)
            {
                var popped = q.NextAvail;
                var added = _device.ProcessQueue(index, q, _memory);
                if (added && q.NeedsNotification(_memory))
                {
                    SignalQueueLocked(index);
                }

                // Only while the device makes progress: buffers it leaves waiting (no console input yet, a rate
                // limit) are its own to ask for later (RequestProcessing); re-kicking for them would spin.
                more = !q.Broken && q.EnableNotification(_memory) && q.NextAvail != popped;
                if (!more)
                {
                    break;
                }
            }
        }
        catch (GuestMemoryException)
        {
            Stats.CountGuestError();
            SetNeedsResetLocked();
        }

        for (var e = errorsBefore; e < q.GuestErrors; e++)
        {
            Stats.CountGuestError();
        }

        if (q.Broken)
        {
            SetNeedsResetLocked();
        }
        else if (more)
        {
            // Out of rounds with buffers still available: the driver saw our old avail_event (or NO_NOTIFY) when it
            // added them, so no kick is coming for them. The kick handler runs another pass later, on the device's
            // own thread.
            QueueKickHandler?.Invoke(index);
        }
    }

    private void SetNeedsResetLocked()
    {
        if (_common.MarkNeedsReset())
        {
            _interrupts.SignalConfig(_common.ConfigVector);
        }
    }

    private void SignalQueueLocked(int index) => _interrupts.SignalQueue(_common.QueueVector(index));
}
