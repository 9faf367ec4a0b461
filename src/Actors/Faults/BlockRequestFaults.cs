namespace ActorVmm.Actors.Faults;

/// <summary>
/// The per-request faults of one virtio-blk disk (its <c>VirtioBlockDevice.RequestHook</c>). Lives for the VM's
/// life, outside the restartable transport, so it remembers which request an injected crash interrupted and lets
/// exactly that request through once when the restarted device pops it again. Its plans are the disk's current
/// per-request ones (<see cref="DeviceFaults.Requests"/>): with none, and no retry owed, a request costs two reads.
/// </summary>
internal sealed class BlockRequestFaults(string device, DeviceFaults faults, FaultInjector injector)
{
    private readonly Lock _sync = new();
    private int _retryPosition = -1;

    /// <summary>The hook: true fails the request's I/O; throws <see cref="InjectedDeviceFault"/> for a crash.</summary>
    public bool OnRequest(ushort position)
    {
        if (faults.Requests.Length == 0 && Volatile.Read(ref _retryPosition) < 0)
        {
            return false;
        }

        lock (_sync)
        {
            if (_retryPosition == position)
            {
                _retryPosition = -1;
                injector.Retried(device, position);
                return false;
            }

            var schedules = faults.Requests;
            if (schedules.Length == 0)
            {
                return false;
            }

            injector.Counters.CountRequest(device);
            foreach (var schedule in schedules)
            {
                if (!schedule.Fire(null))
                {
                    continue;
                }

                var plan = schedule.Plan;
                injector.Injected(plan, null);
                switch (plan.Kind)
                {
                    case FaultKind.Crash:
                        _retryPosition = position;
                        throw new InjectedDeviceFault(device, $"{plan}, request at ring position {position}");
                    case FaultKind.Delay:
                        injector.Sleep(plan.EffectiveDelay);
                        break;
                    case FaultKind.IoError:
                        return true;
                }
            }

            return false;
        }
    }
}
