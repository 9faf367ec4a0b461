namespace ActorVmm.Actors.Tracing;

/// <summary>The key of one statistics row: event kind, device and the start of the bus range (or the port/page).</summary>
public readonly record struct StatKey(TraceEventKind Kind, string Device, ulong RangeStart, int Vcpu = 0);

/// <summary>
/// Exit statistics of one vCPU (or of a whole saved trace): a <see cref="LatencyCell"/> per (kind, device, range).
/// Recorded without locks on one thread; <see cref="Merge"/> combines vCPUs once they stopped.
/// </summary>
public sealed class ExitStatistics
{
    private readonly Dictionary<StatKey, LatencyCell> _cells = new(KeyComparer.Instance);
    private StatKey _lastKey = new((TraceEventKind)255, string.Empty, 0, -2);
    private LatencyCell? _lastCell;

    /// <summary>Interrupts raised, by (GSI, device).</summary>
    public Dictionary<(ulong Gsi, string Device), long> Interrupts { get; } = [];

    /// <summary>Device faults and restarts, by (device, kind).</summary>
    public Dictionary<(string Device, string Kind), long> DeviceEvents { get; } = [];

    /// <summary>Trace events dropped because the writer fell behind.</summary>
    public long Dropped { get; set; }

    /// <summary>1 when every exit was timed; N when about one exit in N was (see <see cref="VmTracer"/>).</summary>
    public int LatencySampleInterval { get; set; } = 1;

    /// <summary>What one clock read cost where these were recorded (ns; 0 when unknown).</summary>
    public double ClockReadNs { get; set; }

    public IReadOnlyDictionary<StatKey, LatencyCell> Cells => _cells;

    /// <summary>All exits of each vCPU.</summary>
    public IReadOnlyList<(int Key, LatencyCell Cell)> ByVcpuCells => GroupBy(k => k.Vcpu);

    public long TotalExits => _cells.Values.Sum(c => c.Count);

    /// <summary>
    /// Rows of accesses no device claims (and of other exits' details) kept apart; beyond this many, they share one
    /// row per (vCPU, kind) with <see cref="RangeStart"/> <see cref="OtherRanges"/>. A guest sweeping unclaimed
    /// addresses must not grow the VMM's memory without bound.
    /// </summary>
    public const int MaxUnclaimedRows = 256;

    /// <summary>The range start of the row that holds unclaimed accesses beyond <see cref="MaxUnclaimedRows"/>.</summary>
    public const ulong OtherRanges = ulong.MaxValue;

    private int _unclaimedRows;

    /// <summary>Records one exit. Device names compare by reference first (endpoint names are stable strings).</summary>
    public void Record(int vcpu, TraceEventKind kind, string device, ulong rangeStart, long durationNs)
    {
        LatencyCell cell;
        if (_lastCell is not null && _lastKey.Kind == kind && _lastKey.RangeStart == rangeStart
            && ReferenceEquals(_lastKey.Device, device) && _lastKey.Vcpu == vcpu)
        {
            cell = _lastCell;
        }
        else
        {
            cell = CellFor(vcpu, kind, device, rangeStart);
            _lastKey = new StatKey(kind, device, rangeStart, vcpu);
            _lastCell = cell;
        }

        cell.Record(durationNs);
    }

    /// <summary>The cell exits with this key are recorded in (made on first use). Single-threaded like <see cref="Record"/>.</summary>
    public LatencyCell CellFor(int vcpu, TraceEventKind kind, string device, ulong rangeStart)
    {
        var key = new StatKey(kind, device, rangeStart, vcpu);
        if (_cells.TryGetValue(key, out var cell))
        {
            return cell;
        }

        if (device is TraceNames.Unclaimed or TraceNames.NoDevice)
        {
            if (_unclaimedRows >= MaxUnclaimedRows)
            {
                key = key with { RangeStart = OtherRanges };
                if (_cells.TryGetValue(key, out cell))
                {
                    return cell;
                }
            }
            else
            {
                _unclaimedRows++;
            }
        }

        cell = new LatencyCell();
        _cells.Add(key, cell);
        return cell;
    }

    public void CountInterrupt(ulong gsi, string device) =>
        Interrupts[(gsi, device)] = Interrupts.GetValueOrDefault((gsi, device)) + 1;

    public void CountDeviceEvent(string device, string kind) =>
        DeviceEvents[(device, kind)] = DeviceEvents.GetValueOrDefault((device, kind)) + 1;

    /// <summary>Adds <paramref name="other"/>'s counts into this one (by value: equal device names merge).</summary>
    public void Merge(ExitStatistics other)
    {
        foreach (var (key, cell) in other._cells)
        {
            var k = key with { Device = string.Intern(key.Device) };
            if (!_cells.TryGetValue(k, out var mine))
            {
                mine = new LatencyCell();
                _cells.Add(k, mine);
            }

            mine.Add(cell);
        }

        foreach (var (key, n) in other.Interrupts)
        {
            Interrupts[key] = Interrupts.GetValueOrDefault(key) + n;
        }

        foreach (var (key, n) in other.DeviceEvents)
        {
            DeviceEvents[key] = DeviceEvents.GetValueOrDefault(key) + n;
        }

        Dropped += other.Dropped;
        _lastCell = null;
    }

    /// <summary>Rows grouped by <paramref name="group"/> (cells merged).</summary>
    public IReadOnlyList<(TKey Key, LatencyCell Cell)> GroupBy<TKey>(Func<StatKey, TKey> group)
        where TKey : notnull
    {
        var rows = new Dictionary<TKey, LatencyCell>();
        foreach (var (key, cell) in _cells)
        {
            var g = group(key);
            if (!rows.TryGetValue(g, out var merged))
            {
                merged = new LatencyCell();
                rows.Add(g, merged);
            }

            merged.Add(cell);
        }

        return [.. rows.Select(r => (r.Key, r.Value)).OrderByDescending(r => r.Value.Count).ThenBy(r => r.Key.ToString(), StringComparer.Ordinal)];
    }

    /// <summary>Equal when kind and range match and device names are the same string (by reference, then by value).</summary>
    private sealed class KeyComparer : IEqualityComparer<StatKey>
    {
        public static readonly KeyComparer Instance = new();

        public bool Equals(StatKey x, StatKey y) =>
            x.Kind == y.Kind && x.RangeStart == y.RangeStart && x.Vcpu == y.Vcpu
            && (ReferenceEquals(x.Device, y.Device) || string.Equals(x.Device, y.Device, StringComparison.Ordinal));

        public int GetHashCode(StatKey key) =>
            HashCode.Combine((int)key.Kind, key.RangeStart, key.Vcpu, key.Device.Length, key.Device.Length > 0 ? key.Device[^1] : '\0');
    }
}
