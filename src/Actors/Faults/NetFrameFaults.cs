using ActorVmm.Actors.Net;
using ActorVmm.Devices.Net;

namespace ActorVmm.Actors.Faults;

/// <summary>
/// The per-frame faults of one NIC (its <see cref="NetPort.Faults"/>), for the VM's life. Each frame the guest sends
/// meets the NIC's plans in id order: a partition that fired cuts it (and every frame arriving for the guest) until
/// the plan is removed; drop loses it; corrupt flips <see cref="FaultPlan.Bits"/> seeded random bits of its Ethernet
/// part; duplicate sends a copy too; delay holds it <see cref="FaultPlan.Delay"/> plus 0..<see cref="FaultPlan.Jitter"/>;
/// reorder holds it until the next frame has gone (or <see cref="ReorderHoldLimit"/>); rate shapes it with a token
/// bucket (<see cref="FaultPlan.RateBurstBytes"/> deep) and a bounded backlog that drops when full, like tc tbf.
/// <para>
/// Held frames wait in bounded structures (<see cref="MaxHeldFrames"/> / <see cref="MaxHeldBytes"/> in the delay line,
/// <see cref="FaultPlan.RateBacklogBytes"/> in the backlog; beyond, dropped and counted on the port) served by one
/// timer of the injector's clock, so the NIC's transmit worker never waits. Frames go to the link under this object's
/// lock, in the order they leave (the link's Send never blocks). Injected faults are counted and reported like the
/// device faults (rate: when a frame had to wait or was dropped; partition: once, when the cut begins).
/// </para>
/// </summary>
internal sealed class NetFrameFaults(DeviceFaults faults, FaultInjector injector, TimeProvider time) : INetPortFaults
{
    /// <summary>Frames the delay line holds at most (the reorder slot and the rate backlog apart).</summary>
    public const int MaxHeldFrames = 1024;

    /// <summary>Bytes the delay line holds at most.</summary>
    public const long MaxHeldBytes = 8L << 20;

    /// <summary>The longest a reordered frame waits for the next one.</summary>
    public static readonly TimeSpan ReorderHoldLimit = TimeSpan.FromMilliseconds(100);

    private readonly Lock _sync = new();
    private readonly PriorityQueue<Delayed, (long Due, long Sequence)> _delayLine = new();
    private readonly Queue<byte[]> _backlog = new();
    private readonly HashSet<FaultSchedule> _cut = [];
    private NetPort? _port;
    private ITimer? _timer;
    private long _timerDue = long.MaxValue;
    private long _sequence;
    private long _delayedBytes;
    private long _backlogBytes;
    private Held? _held;
    private int _holding;
    private FaultSchedule? _shaper;
    private double _tokens;
    private long _tokensAt;
    private bool _closed;

    public bool Active => faults.Frames.Length != 0 || Volatile.Read(ref _holding) != 0;

    /// <summary>The port whose frames this applies to (the injector's AttachNet).</summary>
    public void Bind(NetPort port)
    {
        lock (_sync)
        {
            _port = port;
        }

        port.Faults = this;
    }

    public void Egress(byte[] frame)
    {
        lock (_sync)
        {
            var port = _port;
            if (port is null || _closed)
            {
                port?.CountDrop(NetDropReason.Closed);
                return;
            }

            var schedules = faults.Frames;
            var now = time.GetTimestamp();
            if (IsCut(schedules, fire: true))
            {
                port.CountDrop(NetDropReason.Partition);
                return;
            }

            var copies = 1;
            var delay = TimeSpan.Zero;
            var hold = false;
            FaultSchedule? rate = null;
            foreach (var schedule in schedules)
            {
                var plan = schedule.Plan;
                switch (plan.Kind)
                {
                    case FaultKind.Drop when schedule.Fire(null):
                        injector.Injected(plan, null, perFrame: true);
                        port.CountDrop(NetDropReason.Fault);
                        return;
                    case FaultKind.Corrupt when schedule.Fire(null):
                        injector.Injected(plan, null, perFrame: true);
                        FlipBits(frame, schedule);
                        break;
                    case FaultKind.Duplicate when schedule.Fire(null):
                        injector.Injected(plan, null, perFrame: true);
                        copies++;
                        break;
                    case FaultKind.Delay when schedule.Fire(null):
                        injector.Injected(plan, null, perFrame: true);
                        delay += plan.EffectiveDelay + Jitter(schedule);
                        break;

                    // A frame that will release a held one is no candidate: the held frame goes right after it.
                    case FaultKind.Reorder when _held is null && schedule.Fire(null):
                        injector.Injected(plan, null, perFrame: true);
                        hold = true;
                        break;
                    case FaultKind.Rate when schedule.Fire(null):
                        if (rate is null || plan.Rate < rate.Plan.Rate)
                        {
                            rate = schedule;
                        }

                        break;
                }
            }

            var frames = new byte[copies][];
            frames[0] = frame;
            for (var i = 1; i < copies; i++)
            {
                frames[i] = (byte[])frame.Clone();
            }

            if (hold)
            {
                _held = new Held(frames, delay, rate, now + Ticks(ReorderHoldLimit));
                Interlocked.Add(ref _holding, frames.Length);
                Arm(now);
                return;
            }

            foreach (var copy in frames)
            {
                Emit(port, copy, delay, rate, now);
            }

            ReleaseHeld(port, now);
            Arm(now);
        }
    }

    public bool CutsIngress()
    {
        lock (_sync)
        {
            return IsCut(faults.Frames, fire: true);
        }
    }

    public void Close()
    {
        lock (_sync)
        {
            _closed = true;
            var dropped = _delayLine.Count + _backlog.Count + (_held?.Frames.Length ?? 0);
            _delayLine.Clear();
            _backlog.Clear();
            _held = null;
            _delayedBytes = 0;
            _backlogBytes = 0;
            Volatile.Write(ref _holding, 0);
            for (var i = 0; i < dropped; i++)
            {
                _port?.CountDrop(NetDropReason.Closed);
            }

            _timer?.Dispose();
            _timer = null;
        }
    }

    /// <summary>
    /// Under the lock: whether a partition cuts the port now. Partitions that fired stay in force while armed;
    /// <paramref name="fire"/> (a frame passing) lets the others' triggers count it and maybe begin the cut.
    /// </summary>
    private bool IsCut(FaultSchedule[] schedules, bool fire)
    {
        if (_cut.Count > 0)
        {
            _cut.RemoveWhere(s => Array.IndexOf(schedules, s) < 0);
        }

        foreach (var schedule in schedules)
        {
            if (schedule.Plan.Kind != FaultKind.Partition || _cut.Contains(schedule) || !fire || !schedule.Fire(null))
            {
                continue;
            }

            _cut.Add(schedule);
            injector.Injected(schedule.Plan, null);
        }

        return _cut.Count > 0;
    }

    /// <summary>Flips <see cref="FaultPlan.EffectiveBits"/> distinct bits of the Ethernet part (past the virtio header).</summary>
    private static void FlipBits(byte[] frame, FaultSchedule schedule)
    {
        var totalBits = (long)(frame.Length - NetFrame.HeaderSize) * 8;
        var count = (int)Math.Min(schedule.Plan.EffectiveBits, totalBits);
        Span<long> flipped = stackalloc long[FaultPlan.MaxBits];
        var done = 0;
        while (done < count)
        {
            var bit = (long)(schedule.NextRandom() % (ulong)totalBits);
            if (flipped[..done].Contains(bit))
            {
                continue;
            }

            flipped[done++] = bit;
            frame[NetFrame.HeaderSize + (bit / 8)] ^= (byte)(1 << (int)(bit % 8));
        }
    }

    private static TimeSpan Jitter(FaultSchedule schedule)
    {
        var jitter = schedule.Plan.Jitter;
        return jitter > TimeSpan.Zero ? TimeSpan.FromTicks((long)(schedule.NextRandom() % (ulong)(jitter.Ticks + 1))) : TimeSpan.Zero;
    }

    /// <summary>Under the lock: a frame leaves the fault stages now, into the delay line or on to the shaper.</summary>
    private void Emit(NetPort port, byte[] frame, TimeSpan delay, FaultSchedule? rate, long now)
    {
        if (delay <= TimeSpan.Zero)
        {
            Shape(port, frame, rate, now);
            return;
        }

        if (_delayLine.Count >= MaxHeldFrames || _delayedBytes + frame.Length > MaxHeldBytes)
        {
            port.CountDrop(NetDropReason.DelayLineFull);
            return;
        }

        _delayLine.Enqueue(new Delayed(frame, rate), (now + Ticks(delay), _sequence++));
        _delayedBytes += frame.Length;
        Interlocked.Increment(ref _holding);
    }

    private void ReleaseHeld(NetPort port, long now)
    {
        if (_held is not { } held)
        {
            return;
        }

        _held = null;
        Interlocked.Add(ref _holding, -held.Frames.Length);
        foreach (var frame in held.Frames)
        {
            Emit(port, frame, held.Delay, held.Rate, now);
        }
    }

    /// <summary>Under the lock: through the token bucket when a rate plan fired on it, else straight to the wire.</summary>
    private void Shape(NetPort port, byte[] frame, FaultSchedule? rate, long now)
    {
        FlushBacklogWithoutRate(port);
        if (rate is null)
        {
            Wire(port, frame);
            return;
        }

        if (!ReferenceEquals(_shaper, rate))
        {
            DrainBacklog(port, now);
            if (_shaper is null)
            {
                _tokens = rate.Plan.RateBurstBytes;
                _tokensAt = now;
            }

            _shaper = rate;
        }

        Refill(now);
        var cost = frame.Length - NetFrame.HeaderSize;
        if (_backlog.Count == 0 && CanSend(cost))
        {
            _tokens -= cost;
            Wire(port, frame);
            return;
        }

        injector.Injected(rate.Plan, null, perFrame: true);
        if (_backlog.Count >= MaxHeldFrames || _backlogBytes + frame.Length > rate.Plan.RateBacklogBytes)
        {
            port.CountDrop(NetDropReason.RateBacklogFull);
            return;
        }

        _backlog.Enqueue(frame);
        _backlogBytes += frame.Length;
        Interlocked.Increment(ref _holding);
    }

    /// <summary>Under the lock: the backlog's head frames the bucket's tokens pay for go out.</summary>
    private void DrainBacklog(NetPort port, long now)
    {
        if (_shaper is null)
        {
            return;
        }

        Refill(now);
        while (_backlog.TryPeek(out var head) && CanSend(head.Length - NetFrame.HeaderSize))
        {
            _backlog.Dequeue();
            _backlogBytes -= head.Length;
            Interlocked.Decrement(ref _holding);
            _tokens -= head.Length - NetFrame.HeaderSize;
            Wire(port, head);
        }
    }

    /// <summary>Under the lock: once the shaping plan is removed, its backlog goes out at once.</summary>
    private void FlushBacklogWithoutRate(NetPort port)
    {
        if (_shaper is null || Array.IndexOf(faults.Frames, _shaper) >= 0)
        {
            return;
        }

        _shaper = null;
        while (_backlog.TryDequeue(out var frame))
        {
            _backlogBytes -= frame.Length;
            Interlocked.Decrement(ref _holding);
            Wire(port, frame);
        }
    }

    /// <summary>
    /// A frame the bucket pays for: tokens for all of it, or a full bucket for a frame larger than the bucket (a GSO
    /// frame), which leaves the bucket in debt.
    /// </summary>
    private bool CanSend(int cost) => _tokens >= Math.Min(cost, _shaper!.Plan.RateBurstBytes);

    private void Refill(long now)
    {
        if (_shaper is null)
        {
            return;
        }

        var elapsed = (double)(now - _tokensAt) / time.TimestampFrequency;
        _tokensAt = now;
        _tokens = Math.Min(_shaper.Plan.RateBurstBytes, _tokens + (elapsed * _shaper.Plan.Rate / 8));
    }

    private void Wire(NetPort port, byte[] frame)
    {
        if (_cut.Count > 0 && IsCut(faults.Frames, fire: false))
        {
            port.CountDrop(NetDropReason.Partition);
            return;
        }

        port.Transmit(frame);
    }

    private long Ticks(TimeSpan span) => (long)(span.TotalSeconds * time.TimestampFrequency);

    /// <summary>Under the lock: the timer is set for the earliest held frame's due time (delay line, reorder, backlog).</summary>
    private void Arm(long now)
    {
        var due = long.MaxValue;
        if (_delayLine.TryPeek(out _, out var head))
        {
            due = head.Due;
        }

        if (_held is { } held)
        {
            due = Math.Min(due, held.ReleaseAt);
        }

        if (_shaper is not null && _backlog.TryPeek(out var next))
        {
            var missing = Math.Min(next.Length - NetFrame.HeaderSize, _shaper.Plan.RateBurstBytes) - _tokens;
            var wait = missing <= 0 ? 0 : (long)Math.Ceiling(missing * 8 / _shaper.Plan.Rate * time.TimestampFrequency);
            due = Math.Min(due, now + Math.Max(wait, 1));
        }

        if (due == long.MaxValue || due >= _timerDue || _closed)
        {
            return;
        }

        _timerDue = due;
        _timer ??= time.CreateTimer(_ => OnTimer(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        // Whole milliseconds, rounded up: a timer rounds its due time down, and a frame must not leave early.
        var after = TimeSpan.FromMilliseconds(Math.Ceiling((double)Math.Max(due - now, 0) * 1000 / time.TimestampFrequency));
        _timer.Change(after, Timeout.InfiniteTimeSpan);
    }

    /// <summary>On the timer's thread: held frames that are due leave, in due order; then the timer is set again.</summary>
    private void OnTimer()
    {
        lock (_sync)
        {
            _timerDue = long.MaxValue;
            if (_closed || _port is not { } port)
            {
                return;
            }

            var now = time.GetTimestamp();
            if (_held is { } held && held.ReleaseAt <= now)
            {
                ReleaseHeld(port, now);
            }

            while (_delayLine.TryPeek(out var delayed, out var at) && at.Due <= now)
            {
                _delayLine.Dequeue();
                _delayedBytes -= delayed.Frame.Length;
                Interlocked.Decrement(ref _holding);
                Shape(port, delayed.Frame, delayed.Rate, now);
            }

            FlushBacklogWithoutRate(port);
            DrainBacklog(port, now);
            Arm(now);
        }
    }

    private readonly record struct Delayed(byte[] Frame, FaultSchedule? Rate);

    private sealed record Held(byte[][] Frames, TimeSpan Delay, FaultSchedule? Rate, long ReleaseAt);
}
