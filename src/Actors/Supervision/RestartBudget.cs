using System.Diagnostics;

namespace ActorVmm.Actors.Supervision;

/// <summary>
/// A sliding-window restart budget for one device: at most <c>maxRestarts</c> restarts within <c>within</c>.
/// Akka's own maxNrOfRetries/withinTimeRange silently stops the child when exceeded; we need to log, count and
/// apply a policy (stop the device or the VM), so the window is tracked here.
/// </summary>
public sealed class RestartBudget(int maxRestarts, TimeSpan within, Func<long>? clock = null)
{
    private readonly Queue<long> _restarts = new();
    private readonly Func<long> _clock = clock ?? Stopwatch.GetTimestamp;

    /// <summary>Failures counted in the current window, including the one being decided.</summary>
    public int FailuresInWindow { get; private set; }

    /// <summary>Records a failure that wants a restart; false when it exceeds the budget.</summary>
    public bool TryConsume()
    {
        var now = _clock();
        var window = (long)(within.TotalSeconds * Stopwatch.Frequency);
        while (_restarts.Count > 0 && now - _restarts.Peek() > window)
        {
            _restarts.Dequeue();
        }

        FailuresInWindow = _restarts.Count + 1;
        if (_restarts.Count >= maxRestarts)
        {
            return false;
        }

        _restarts.Enqueue(now);
        return true;
    }

    /// <summary>A short human form of a window: 1m, 30s, 1h, 250ms.</summary>
    public static string Format(TimeSpan span) =>
        span.TotalHours >= 1 && span.Ticks % TimeSpan.TicksPerHour == 0 ? $"{(long)span.TotalHours}h"
        : span.TotalMinutes >= 1 && span.Ticks % TimeSpan.TicksPerMinute == 0 ? $"{(long)span.TotalMinutes}m"
        : span.TotalSeconds >= 1 && span.Ticks % TimeSpan.TicksPerSecond == 0 ? $"{(long)span.TotalSeconds}s"
        : $"{span.TotalMilliseconds:0.###}ms";
}
