using ActorVmm.Actors.Endpoints;
using System.Buffers.Binary;
using ActorVmm.Devices;

namespace ActorVmm.Actors.Faults;

/// <summary>
/// A decorator around a device model that injects register-level faults: <see cref="FaultKind.Crash"/> (throws
/// <see cref="InjectedDeviceFault"/> from Read/Write before the access reaches the device, so the device's actor fails
/// and is supervised), <see cref="FaultKind.Delay"/> (waits before the access), <see cref="FaultKind.Drop"/> (via
/// <see cref="IReplyDropper"/>: the endpoint never delivers the read) and <see cref="FaultKind.Corrupt"/> (XORs the
/// plan's mask into the value a read returns). Crash and delay count every access; drop and corrupt count reads.
/// After <see cref="IFailStopDevice.FailStop"/> it injects nothing more.
/// <para>
/// Built by <see cref="FaultInjector.Wrap"/> around every device; the plans it applies are the device's current ones
/// (an array the injector swaps when a plan is added or removed), so with none an access costs one empty-array check.
/// <see cref="Create"/> returns the stateful variant when the inner device is <see cref="IStatefulDevice"/>, so
/// supervision saves and restores the inner device's state exactly as without faults.
/// </para>
/// </summary>
public class FaultInjectingDevice : IBusDevice, IReplyDropper, IFailStopDevice, IQueueDevice, IHostInput, IConfigSpace
{
    private readonly DeviceFaults _faults;
    private readonly FaultInjector _injector;
    private readonly bool _boundedDelays;
    private volatile bool _failStopped;

    private protected FaultInjectingDevice(IBusDevice inner, string name, DeviceFaults faults, FaultInjector injector, bool boundedDelays)
    {
        Inner = inner;
        Name = name;
        _faults = faults;
        _injector = injector;
        _boundedDelays = boundedDelays;
    }

    public string Name { get; }

    public IBusDevice Inner { get; }

    /// <summary>
    /// The decorator for <paramref name="inner"/> (implementing <see cref="IStatefulDevice"/> when it does), applying
    /// the register-level plans <paramref name="injector"/> has for device <paramref name="name"/>, now and later.
    /// </summary>
    /// <param name="boundedDelays">The device is mapped inline: a delay may run on a vCPU thread, so it is bounded
    /// (see <see cref="FaultInjector"/>).</param>
    public static FaultInjectingDevice Create(IBusDevice inner, string name, FaultInjector injector, bool boundedDelays = false)
    {
        ArgumentNullException.ThrowIfNull(injector);
        return Create(inner, name, injector.FaultsOf(name), injector, boundedDelays);
    }

    internal static FaultInjectingDevice Create(IBusDevice inner, string name, DeviceFaults faults, FaultInjector injector, bool boundedDelays) =>
        inner is IStatefulDevice
            ? new FaultInjectingStatefulDevice(inner, name, faults, injector, boundedDelays)
            : new FaultInjectingDevice(inner, name, faults, injector, boundedDelays);

    public void Read(ulong offset, Span<byte> data)
    {
        var schedules = _faults.Bus;
        if (schedules.Length == 0)
        {
            Inner.Read(offset, data);
            return;
        }

        Before(schedules, offset, isRead: true);
        Inner.Read(offset, data);
        if (_failStopped)
        {
            return;
        }

        Span<byte> buffer = stackalloc byte[8];
        foreach (var schedule in schedules)
        {
            if (schedule.Plan.Kind == FaultKind.Corrupt && schedule.Fire(offset))
            {
                _injector.Injected(schedule.Plan, offset);
                buffer.Clear();
                var length = Math.Min(data.Length, 8);
                data[..length].CopyTo(buffer);
                BinaryPrimitives.WriteUInt64LittleEndian(buffer, BinaryPrimitives.ReadUInt64LittleEndian(buffer) ^ schedule.Plan.Mask);
                buffer[..length].CopyTo(data);
            }
        }
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        var schedules = _faults.Bus;
        if (schedules.Length != 0)
        {
            Before(schedules, offset, isRead: false);
        }

        Inner.Write(offset, data);
    }

    public int QueueCount => Inner is IQueueDevice queues ? queues.QueueCount : 0;

    public ulong NotifyRegister(int queue) => Inner is IQueueDevice queues ? queues.NotifyRegister(queue) : 0;

    public Action<int>? QueueKickHandler
    {
        get => (Inner as IQueueDevice)?.QueueKickHandler;
        set
        {
            if (Inner is IQueueDevice queues)
            {
                queues.QueueKickHandler = value;
            }
        }
    }

    /// <summary>
    /// A kick counts as the write to the queue's notify register it stands for: a crash plan fires here, before the
    /// pass is claimed (so the device's actor fails and the kick reaches the restarted device).
    /// </summary>
    public bool TryBeginQueuePass(int queue)
    {
        if (Inner is not IQueueDevice queues)
        {
            return false;
        }

        var schedules = _faults.Bus;
        if (schedules.Length != 0)
        {
            Before(schedules, queues.NotifyRegister(queue), isRead: false, delay: false);
        }

        return queues.TryBeginQueuePass(queue);
    }

    /// <summary>A delay plan waits here, on the queue's worker, before the pass: the register path never waits for it.</summary>
    public QueuePassResult RunQueuePass(int queue)
    {
        var queues = (IQueueDevice)Inner;
        var schedules = _faults.Bus;
        if (schedules.Length != 0)
        {
            // On the queue's worker, never a vCPU thread: not bounded like an inline delay.
            Before(schedules, queues.NotifyRegister(queue), isRead: false, crash: false, onWorker: true);
        }

        return queues.RunQueuePass(queue);
    }

    public void EndQueuePass(int queue, QueuePassResult result) => (Inner as IQueueDevice)?.EndQueuePass(queue, result);

    public void Quiesce() => (Inner as IQueueDevice)?.Quiesce();

    public void Unquiesce() => (Inner as IQueueDevice)?.Unquiesce();

    public int WaitingRequests => (Inner as IQueueDevice)?.WaitingRequests ?? 0;

    public int AcceptInput(ReadOnlySpan<byte> input) => Inner is IHostInput host ? host.AcceptInput(input) : 0;

    public void ReadConfig(int offset, Span<byte> data)
    {
        if (Inner is IConfigSpace config)
        {
            config.ReadConfig(offset, data);
        }
        else
        {
            data.Fill(0xff);
        }
    }

    public void WriteConfig(int offset, ReadOnlySpan<byte> data) => (Inner as IConfigSpace)?.WriteConfig(offset, data);

    public bool ShouldDropRead(ulong offset, int size)
    {
        var schedules = _faults.Bus;
        if (schedules.Length == 0 || _failStopped)
        {
            return false;
        }

        foreach (var schedule in schedules)
        {
            if (schedule.Plan.Kind == FaultKind.Drop && schedule.Fire(offset))
            {
                _injector.Injected(schedule.Plan, offset);
                return true;
            }
        }

        return false;
    }

    public void FailStop()
    {
        _failStopped = true;
        if (Inner is IFailStopDevice inner)
        {
            inner.FailStop();
        }
    }

    /// <summary>Crash and delay plans that fire on an access at <paramref name="offset"/> (a kick claims crashes, its pass delays).</summary>
    private void Before(FaultSchedule[] schedules, ulong offset, bool isRead, bool crash = true, bool delay = true, bool onWorker = false)
    {
        if (_failStopped)
        {
            return;
        }

        foreach (var schedule in schedules)
        {
            var plan = schedule.Plan;
            var wanted = plan.Kind switch
            {
                FaultKind.Crash => crash,
                FaultKind.Delay => delay,
                _ => false,
            };
            if (!wanted || !schedule.Fire(offset))
            {
                continue;
            }

            _injector.Injected(plan, offset);
            if (plan.Kind == FaultKind.Crash)
            {
                throw new InjectedDeviceFault(Name, $"{plan} at offset 0x{offset:x} ({(isRead ? "read" : "write")})");
            }

            _injector.Sleep(plan.EffectiveDelay, bounded: _boundedDelays && !onWorker);
        }
    }
}

/// <summary>A <see cref="FaultInjectingDevice"/> around an <see cref="IStatefulDevice"/>: state calls go to the inner device.</summary>
public sealed class FaultInjectingStatefulDevice : FaultInjectingDevice, IStatefulDevice
{
    internal FaultInjectingStatefulDevice(IBusDevice inner, string name, DeviceFaults faults, FaultInjector injector, bool boundedDelays)
        : base(inner, name, faults, injector, boundedDelays)
    {
    }

    public object SaveState() => ((IStatefulDevice)Inner).SaveState();

    public void RestoreState(object state) => ((IStatefulDevice)Inner).RestoreState(state);

    public void Reset() => ((IStatefulDevice)Inner).Reset();

    public void RestoreFailed(object state) => ((IStatefulDevice)Inner).RestoreFailed(state);
}
