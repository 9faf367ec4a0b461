using HdrHistogram;

namespace ActorVmm.Actors.Tracing;

/// <summary>
/// Count, total and an HdrHistogram of handling times (ns) of one group of events. Not thread-safe. Where the
/// tracer samples latency, <see cref="Count"/> counts every event and the times (total, min, max, histogram) come
/// from the <see cref="TimedCount"/> timed ones.
/// </summary>
public sealed class LatencyCell
{
    /// <summary>Highest value a histogram tracks exactly (60 s); longer times are clamped.</summary>
    public const long HighestNs = 60_000_000_000;

    private readonly LongHistogram _histogram = new(HighestNs, 2);

    public long Count { get; private set; }

    /// <summary>Events whose handling time was measured (all of them unless latency is sampled).</summary>
    public long TimedCount { get; private set; }

    public long TotalNs { get; private set; }

    public long MinNs { get; private set; } = long.MaxValue;

    public long MaxNs { get; private set; }

    public HistogramBase Histogram => _histogram;

    public void Record(long ns)
    {
        if (ns < 0)
        {
            ns = 0;
        }

        Count++;
        TimedCount++;
        TotalNs += ns;
        if (ns < MinNs)
        {
            MinNs = ns;
        }

        if (ns > MaxNs)
        {
            MaxNs = ns;
        }

        _histogram.RecordValue(Math.Min(ns, HighestNs));
    }

    /// <summary>Counts an event whose handling time was not measured (latency sampling).</summary>
    public void RecordUntimed() => Count++;

    public void Add(LatencyCell other)
    {
        if (other.Count == 0)
        {
            return;
        }

        Count += other.Count;
        TimedCount += other.TimedCount;
        TotalNs += other.TotalNs;
        MinNs = Math.Min(MinNs, other.MinNs);
        MaxNs = Math.Max(MaxNs, other.MaxNs);
        _histogram.Add(other._histogram);
    }

    public double MeanNs => TimedCount == 0 ? 0 : (double)TotalNs / TimedCount;

    /// <summary>The handling time of all <see cref="Count"/> events: measured, or estimated from the timed ones.</summary>
    public double EstimatedTotalNs => TimedCount == Count ? TotalNs : MeanNs * Count;

    /// <summary>Relative standard error of the mean, in % (what <c>perf kvm stat</c> prints as "± x%").</summary>
    public double RelativeErrorPercent
    {
        get
        {
            if (TimedCount < 2 || TotalNs == 0)
            {
                return 0;
            }

            var stddev = _histogram.GetStdDeviation();
            return stddev / Math.Sqrt(TimedCount) / MeanNs * 100.0;
        }
    }
}
