using HdrHistogram;

namespace ActorVmm.Actors.Tracing;

/// <summary>Count, total and an HdrHistogram of handling times (ns) of one group of events. Not thread-safe.</summary>
public sealed class LatencyCell
{
    /// <summary>Highest value a histogram tracks exactly (60 s); longer times are clamped.</summary>
    public const long HighestNs = 60_000_000_000;

    private readonly LongHistogram _histogram = new(HighestNs, 2);

    public long Count { get; private set; }

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

    public void Add(LatencyCell other)
    {
        if (other.Count == 0)
        {
            return;
        }

        Count += other.Count;
        TotalNs += other.TotalNs;
        MinNs = Math.Min(MinNs, other.MinNs);
        MaxNs = Math.Max(MaxNs, other.MaxNs);
        _histogram.Add(other._histogram);
    }

    public double MeanNs => Count == 0 ? 0 : (double)TotalNs / Count;

    /// <summary>Relative standard error of the mean, in % (what <c>perf kvm stat</c> prints as "± x%").</summary>
    public double RelativeErrorPercent
    {
        get
        {
            if (Count < 2 || TotalNs == 0)
            {
                return 0;
            }

            var stddev = _histogram.GetStdDeviation();
            return stddev / Math.Sqrt(Count) / MeanNs * 100.0;
        }
    }
}
