using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace ActorVmm.Bench;

/// <summary>
/// A VMM process whose serial console is its stdout, running the snapcount guest script (a line
/// <c>count N disk OK</c> five times a second). Times are from just before the process start; the first count line
/// is "the guest running". A sampler given at start runs on the output thread the moment that line arrives (memory
/// read then, before the guest touches more). Disposing kills the process and what it started.
/// </summary>
internal sealed partial class CountingGuest : IDisposable
{
    private readonly Process _process;
    private readonly Stopwatch _clock;
    private readonly Func<int, RestoreMemory?>? _sampler;
    private readonly object _gate = new();
    private readonly List<(int AtLeast, TaskCompletionSource<CountSeen> Seen)> _waiters = [];
    private readonly Queue<string> _lastLines = new();
    private CountSeen? _first;
    private CountSeen? _latest;

    private CountingGuest(string file, IEnumerable<string> args, Func<int, RestoreMemory?>? sampler)
    {
        _sampler = sampler;
        var psi = new ProcessStartInfo(file)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        // ActorVmm's start-up probe: one stderr line at its first KVM_RUN (the guest running), in ms since process start.
        psi.Environment["ACTORVMM_STARTUP_REPORT"] = "1";
        _clock = Stopwatch.StartNew();
        _process = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        _process.OutputDataReceived += (_, e) => OnLine(e.Data);
        _process.ErrorDataReceived += (_, e) => Remember(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>One count line: when it came (ms after process start), its N, and what the sampler read then.</summary>
    internal sealed record CountSeen(double Ms, int Count, RestoreMemory? Sample);

    public int Pid => _process.Id;

    public double ElapsedMs => _clock.Elapsed.TotalMilliseconds;

    /// <summary>When the VMM's first KVM_RUN came, in ms after its process start (ActorVmm's probe); null: not reported.</summary>
    public double? FirstRunMs { get; private set; }

    /// <summary>The first count line, once one has come.</summary>
    public CountSeen? First => _first;

    public static CountingGuest Start(string file, IEnumerable<string> args, Func<int, RestoreMemory?>? sampler = null) =>
        new(file, args, sampler);

    /// <summary>The first count line with N ≥ <paramref name="atLeast"/>; fails on timeout or when the process ends first.</summary>
    public CountSeen WaitForCount(int atLeast, TimeSpan timeout)
    {
        var seen = new TaskCompletionSource<CountSeen>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            if (_latest is { } latest && latest.Count >= atLeast)
            {
                return latest;
            }

            _waiters.Add((atLeast, seen));
        }

        var deadline = Stopwatch.StartNew();
        while (!seen.Task.Wait(TimeSpan.FromMilliseconds(200)))
        {
            if (_process.HasExited)
            {
                // Its last lines may still be on their way through the output reader.
                _process.WaitForExit();
                if (seen.Task.IsCompleted)
                {
                    break;
                }

                throw new InvalidOperationException($"{Path.GetFileName(_process.StartInfo.FileName)} exited ({_process.ExitCode}) before count {atLeast}; last output: {LastOutput()}");
            }

            if (deadline.Elapsed > timeout)
            {
                throw new TimeoutException($"no count {atLeast} within {timeout.TotalSeconds:F0} s; last output: {LastOutput()}");
            }
        }

        return seen.Task.Result;
    }

    public string LastOutput()
    {
        lock (_gate)
        {
            return _lastLines.Count == 0 ? "(none)" : string.Join(" | ", _lastLines);
        }
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }

            _process.WaitForExit();
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        var match = CountLine().Match(line);
        if (!match.Success)
        {
            Remember(line);
            return;
        }

        var ms = _clock.Elapsed.TotalMilliseconds;
        var count = int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        var sample = _first is null && _sampler is not null ? _sampler(_process.Id) : null;
        var seen = new CountSeen(ms, count, sample);
        List<TaskCompletionSource<CountSeen>> ready;
        lock (_gate)
        {
            _first ??= seen;
            _latest = seen;
            ready = [.. _waiters.Where(w => count >= w.AtLeast).Select(w => w.Seen)];
            _waiters.RemoveAll(w => count >= w.AtLeast);
        }

        foreach (var r in ready)
        {
            r.TrySetResult(seen);
        }
    }

    private void Remember(string? line)
    {
        if (string.IsNullOrWhiteSpace(line))
        {
            return;
        }

        if (FirstRunLine().Match(line) is { Success: true } run)
        {
            FirstRunMs = double.Parse(run.Groups[1].Value, CultureInfo.InvariantCulture);
        }

        lock (_gate)
        {
            _lastLines.Enqueue(line.Length > 200 ? line[..200] : line);
            while (_lastLines.Count > 5)
            {
                _lastLines.Dequeue();
            }
        }
    }

    /// <summary>The snapcount script's line, <c>count N disk OK</c> (or <c>BAD</c>).</summary>
    [GeneratedRegex(@"count (\d+) disk")]
    internal static partial Regex CountLine();

    [GeneratedRegex(@"startup: first KVM_RUN ([0-9.]+) ms after process start")]
    private static partial Regex FirstRunLine();
}
