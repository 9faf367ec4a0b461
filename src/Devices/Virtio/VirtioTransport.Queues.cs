using System.Runtime.CompilerServices;
using ActorVmm.Kvm.Memory;

namespace ActorVmm.Devices.Virtio;

/// <summary>
/// The queue side every transport shares (<see cref="IQueueDevice"/>): kicks ask a queue's worker for a pass; a
/// pass pops, serves and completes on the worker without the register gate; its end signals under the gate.
/// </summary>
public abstract partial class VirtioTransport
{
    /// <summary>Passes over a queue per pass before the rest is left to another pass (<see cref="QueueKickHandler"/>).</summary>
    private const int MaxRounds = 4;

    /// <inheritdoc/>
    public Action<int>? QueueKickHandler { get; set; }

    public int QueueCount => _queues.Length;

    /// <summary>Offset, in the transport's register window, of queue <paramref name="queueIndex"/>'s notify register.</summary>
    ulong IQueueDevice.NotifyRegister(int queueIndex) => NotifyRegisterOffset(queueIndex);

    /// <summary>True while a queue pass runs (a reset, save or restart must wait).</summary>
    public bool PassRunning => _busyPasses > 0;

    /// <inheritdoc/>
    public int WaitingRequests => _queues.Sum(q => q.Waiting(_memory));

    /// <summary>A copy of queue <paramref name="index"/>'s state (for diagnostics and tests).</summary>
    public VirtqueueState GetQueueState(int index) => _queues[index].SaveState();

    /// <summary>
    /// Queue <paramref name="queueIndex"/> was kicked: asks its worker for a pass (or, without a kick handler, runs it
    /// here). An index the device lacks counts as an unhandled write, like a notify write past the last queue.
    /// </summary>
    public void NotifyQueue(int queueIndex)
    {
        if ((uint)queueIndex >= (uint)_queues.Length)
        {
            Stats.CountUnhandledWrite();
            return;
        }

        RequestProcessing(queueIndex);
    }

    public bool TryBeginQueuePass(int queue)
    {
        if ((uint)queue >= (uint)_queues.Length)
        {
            Stats.CountUnhandledWrite();
            return false;
        }

        var q = _queues[queue];
        if (!_activated || _failStopped || _resetPending || _quiesced || _passBusy[queue] || q.Broken)
        {
            // Buffers made available before DRIVER_OK are served on activation, those of a busy queue by its pass.
            return false;
        }

        if (!q.Ready)
        {
            Stats.CountGuestError();
            return false;
        }

        _passBusy[queue] = true;
        _busyPasses++;
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public QueuePassResult RunQueuePass(int index)
    {
        var q = _queues[index];
        var errorsBefore = q.GuestErrors;
        var more = false;
        var signal = false;
        try
        {
            // Bounded: a device does a bounded amount per call; look again a few times if the driver raced us.
            for (var round = 0; round < MaxRounds; round++)
            {
                var popped = q.NextAvail;
                if (ServeOnce(index, q))
                {
                    signal |= q.NeedsNotification(_memory);
                }

                // Only while the device makes progress: buffers it leaves waiting (no console input yet, a rate
                // limit) are its own to ask for later (RequestProcessing); re-kicking for them would spin.
                more = !q.Broken && !q.Quiescing && q.EnableNotification(_memory) && q.NextAvail != popped;
                if (!more)
                {
                    break;
                }
            }
        }
        catch (GuestMemoryException)
        {
            Stats.CountGuestError();
            return new QueuePassResult(signal, Broken: true, More: false);
        }
        finally
        {
            for (var e = errorsBefore; e < q.GuestErrors; e++)
            {
                Stats.CountGuestError();
            }
        }

        return new QueuePassResult(signal, q.Broken, more);
    }

    public void EndQueuePass(int queue, QueuePassResult result)
    {
        if ((uint)queue >= (uint)_queues.Length || !_passBusy[queue])
        {
            return;
        }

        _passBusy[queue] = false;
        _busyPasses--;
        var q = _queues[queue];
        if (_resetPending)
        {
            if (_busyPasses == 0)
            {
                ResetDevice();
                UpdateInterruptLine();
            }

            return;
        }

        if (result.Signal || (q.HasUnsignalledUsed && SafeNeedsNotification(q)))
        {
            SignalQueue(queue);
        }

        if (result.Broken || q.Broken)
        {
            SetNeedsReset();
        }
        else if (result.More && !_quiesced)
        {
            // Out of rounds with buffers still available: the driver saw our old avail_event (or NO_NOTIFY) when it
            // added them, so no kick is coming for them. Another pass follows, on the worker.
            RequestProcessing(queue);
        }
    }

    public void Quiesce()
    {
        _quiesced = true;
        foreach (var q in _queues)
        {
            q.Quiescing = true;
        }
    }

    public void Unquiesce()
    {
        _quiesced = false;
        foreach (var q in _queues)
        {
            q.Quiescing = _resetPending;
        }

        RequestAllQueues();
    }

    /// <summary>
    /// One call into the model for queue <paramref name="index"/>. A request whose serving throws for a host reason
    /// is put back and the exception goes on to the supervisor (the restarted device serves it again); when the
    /// same request throws a second time it completes as failed (<see cref="IVirtioDevice.FailRequest"/>): never
    /// lost, never completed twice.
    /// </summary>
    private bool ServeOnce(int index, Virtqueue q)
    {
        try
        {
            return _device.ProcessQueue(index, q, _memory);
        }
        catch (Exception ex) when (ex is not GuestMemoryException && q.PopOutstanding)
        {
            var chain = q.OutstandingChain!;
            if (q.PutBackFailed())
            {
                throw;
            }

            // Second failure of the same request: fail it to the guest and keep the device running.
            q.AddUsed(_memory, chain.HeadIndex, _device.FailRequest(chain, _memory));
            Stats.CountFailedRequest();
            return true;
        }
    }

    private protected void Activate()
    {
        var context = new VirtioContext(_memory, Registers.DriverFeatures, RequestProcessing, SignalConfigChanged);
        _device.Activate(context);
        _activated = true;
    }

    /// <summary>Asks every ready queue for a pass: buffers made available before DRIVER_OK or while restarting.</summary>
    private protected void RequestAllQueues()
    {
        if (!_activated)
        {
            return;
        }

        for (var i = 0; i < _queues.Length; i++)
        {
            if (_queues[i].Ready)
            {
                RequestProcessing(i);
            }
        }
    }

    private void RequestProcessing(int queueIndex)
    {
        var handler = QueueKickHandler;
        if (handler is not null)
        {
            handler(queueIndex);
            return;
        }

        // No worker (device-level use): run passes here until the queue has nothing more.
        while (TryBeginQueuePass(queueIndex))
        {
            QueuePassResult result;
            try
            {
                result = RunQueuePass(queueIndex);
            }
            catch
            {
                EndQueuePass(queueIndex, QueuePassResult.Failed);
                throw;
            }

            EndQueuePass(queueIndex, result with { More = false });
            if (!result.More)
            {
                break;
            }
        }
    }

    private void SignalConfigChanged()
    {
        Registers.NextGeneration();
        SignalConfig();
    }

    private bool SafeNeedsNotification(Virtqueue q)
    {
        try
        {
            return q.NeedsNotification(_memory);
        }
        catch (GuestMemoryException)
        {
            return true;
        }
    }

    private protected void SetNeedsReset()
    {
        if (Registers.MarkNeedsReset())
        {
            SignalConfig();
        }
    }
}
