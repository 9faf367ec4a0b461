using System.Globalization;

namespace ActorVmm.Bench;

/// <summary>
/// One guest's <c>netbench</c> script (tools/guest/tests/netbench.sh) as its console shows it: the ping line, and per
/// iperf3 test its start line and summary line. At each start and summary line it reads the VMM processes' CPU time
/// (utime + stime of every process given: a KVM vCPU thread's guest time counts as its user time), so a test's CPU
/// cost is the difference. Lines may come from any thread; the figures are read after <see cref="WaitDone"/>. A
/// watcher given a <paramref name="readyMarker"/> also tells when a line containing it came (another script's "up").
/// </summary>
internal sealed class NetbenchWatcher(Func<IReadOnlyList<int>> pids, string? readyMarker = null)
{
    private const string Tag = "netbench: ";

    private readonly object _gate = new();
    private readonly Dictionary<string, double> _cpuAtStart = [];
    private readonly List<NetIperf> _iperf = [];
    private readonly Queue<string> _lastLines = new();
    private readonly TaskCompletionSource<int> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private NetPing? _ping;
    private volatile bool _readySeen;

    public NetPing? Ping
    {
        get
        {
            lock (_gate)
            {
                return _ping;
            }
        }
    }

    public IReadOnlyList<NetIperf> Iperf
    {
        get
        {
            lock (_gate)
            {
                return [.. _iperf];
            }
        }
    }

    /// <summary>The script's <c>netbench: done rc=N</c>, or false when it did not come within <paramref name="timeout"/>.</summary>
    public bool WaitDone(TimeSpan timeout, out int rc)
    {
        var done = _done.Task.Wait(timeout);
        rc = done ? _done.Task.Result : -1;
        return done;
    }

    /// <summary>Whether the ready marker's line came within <paramref name="timeout"/> (false too when the console ended first).</summary>
    public bool WaitReady(TimeSpan timeout) => _ready.Task.Wait(timeout) && _ready.Task.IsCompletedSuccessfully && _readySeen;

    /// <summary>The console ended: a script that did not say done fails with what came last.</summary>
    public void Ended()
    {
        _done.TrySetResult(-1);
        _ready.TrySetResult();
    }

    public string LastOutput()
    {
        lock (_gate)
        {
            return _lastLines.Count == 0 ? "(none)" : string.Join(" | ", _lastLines);
        }
    }

    public void OnLine(string? line)
    {
        if (string.IsNullOrWhiteSpace(line))
        {
            return;
        }

        lock (_gate)
        {
            _lastLines.Enqueue(line.Length > 240 ? line[..240] : line);
            while (_lastLines.Count > 8)
            {
                _lastLines.Dequeue();
            }
        }

        if (readyMarker is not null && line.Contains(readyMarker, StringComparison.Ordinal))
        {
            _readySeen = true;
            _ready.TrySetResult();
        }

        var at = line.IndexOf(Tag, StringComparison.Ordinal);
        if (at < 0)
        {
            return;
        }

        var text = line[(at + Tag.Length)..].Trim();
        var fields = Fields(text);
        if (text.StartsWith("iperf start ", StringComparison.Ordinal) && fields.TryGetValue("dir", out var startDir))
        {
            var cpu = CpuSeconds();
            lock (_gate)
            {
                _cpuAtStart[startDir] = cpu;
            }
        }
        else if (text.StartsWith("iperf ", StringComparison.Ordinal) && fields.TryGetValue("dir", out var dir))
        {
            var cpu = CpuSeconds();
            lock (_gate)
            {
                var used = _cpuAtStart.TryGetValue(dir, out var start) ? cpu - start : double.NaN;
                _iperf.Add(new NetIperf(dir, Number(fields, "sender_bytes"), Number(fields, "sender_mbps"), Number(fields, "receiver_mbps"), fields.GetValueOrDefault("retr", "-"), used));
            }
        }
        else if (text.StartsWith("ping ", StringComparison.Ordinal))
        {
            lock (_gate)
            {
                _ping = new NetPing(Number(fields, "sent"), Number(fields, "received"), Number(fields, "min_ms"), Number(fields, "avg_ms"), Number(fields, "max_ms"));
            }
        }
        else if (text.StartsWith("done rc=", StringComparison.Ordinal))
        {
            _done.TrySetResult(int.TryParse(text["done rc=".Length..], NumberStyles.Integer, CultureInfo.InvariantCulture, out var rc) ? rc : -1);
        }
    }

    /// <summary>utime + stime of a process (all its threads), in seconds; NaN once it is gone.</summary>
    internal static double ProcessCpuSeconds(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // Fields after "(comm)": state is field 3, utime 14, stime 15 (clock ticks: USER_HZ, 100 on Linux).
            var rest = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (long.Parse(rest[11], CultureInfo.InvariantCulture) + long.Parse(rest[12], CultureInfo.InvariantCulture)) / 100.0;
        }
        catch (IOException)
        {
            return double.NaN;
        }
    }

    private double CpuSeconds() => pids().Sum(ProcessCpuSeconds);

    private static Dictionary<string, string> Fields(string text) =>
        text.Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(t => t.Split('=', 2))
            .Where(kv => kv.Length == 2)
            .GroupBy(kv => kv[0])
            .ToDictionary(g => g.Key, g => g.Last()[1]);

    private static double Number(Dictionary<string, string> fields, string key) =>
        fields.TryGetValue(key, out var v) && double.TryParse(v.TrimEnd('%'), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : double.NaN;
}

/// <summary>One netbench ping summary (RTT in ms).</summary>
internal sealed record NetPing(double Sent, double Received, double MinMs, double AvgMs, double MaxMs);

/// <summary>
/// One iperf3 test: <paramref name="Direction"/> is the netbench guest's side (send: it sent); rates in Mbit/s as
/// iperf3 reports them; <paramref name="CpuSeconds"/> the VMM processes' CPU time from the test's start line to its
/// summary line.
/// </summary>
internal sealed record NetIperf(string Direction, double SenderBytes, double SenderMbps, double ReceiverMbps, string Retr, double CpuSeconds)
{
    /// <summary>VMM CPU seconds per GB (10^9 bytes) the sender sent.</summary>
    public double CpuSecondsPerGB => SenderBytes > 0 ? CpuSeconds / (SenderBytes / 1e9) : double.NaN;
}
