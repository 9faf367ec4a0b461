namespace ActorVmm.Devices.Virtio;

/// <summary>
/// A token bucket: refills at <see cref="RatePerSecond"/> up to <see cref="Capacity"/>. Thread-safe. Time comes
/// from a <see cref="TimeProvider"/> so tests can drive it.
/// </summary>
public sealed class TokenBucket
{
    private readonly TimeProvider _time;
    private readonly Lock _sync = new();
    private double _tokens;
    private long _lastTimestamp;

    public TokenBucket(long ratePerSecond, long capacity, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(ratePerSecond);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        RatePerSecond = ratePerSecond;
        Capacity = capacity;
        _time = time ?? TimeProvider.System;
        _tokens = capacity;
        _lastTimestamp = _time.GetTimestamp();
    }

    public long RatePerSecond { get; }

    public long Capacity { get; }

    /// <summary>Takes up to <paramref name="wanted"/> tokens; returns how many were taken (possibly 0).</summary>
    public long Take(long wanted)
    {
        lock (_sync)
        {
            Refill();
            var taken = Math.Min(wanted, (long)Math.Floor(_tokens));
            if (taken <= 0)
            {
                return 0;
            }

            _tokens -= taken;
            return taken;
        }
    }

    /// <summary>How long until at least one token is available.</summary>
    public TimeSpan TimeUntilAvailable()
    {
        lock (_sync)
        {
            Refill();
            if (_tokens >= 1)
            {
                return TimeSpan.Zero;
            }

            return TimeSpan.FromSeconds((1 - _tokens) / RatePerSecond);
        }
    }

    private void Refill()
    {
        var now = _time.GetTimestamp();
        var elapsed = _time.GetElapsedTime(_lastTimestamp, now);
        _lastTimestamp = now;
        if (elapsed > TimeSpan.Zero)
        {
            _tokens = Math.Min(Capacity, _tokens + (elapsed.TotalSeconds * RatePerSecond));
        }
    }
}
