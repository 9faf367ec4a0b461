using ActorVmm.Kvm;

namespace ActorVmm.TestSupport.Fakes;

/// <summary>
/// A fake vCPU: returns scripted exits, then "runs the guest" (blocks) until kicked. Like KVM it commits the data
/// of an IoIn/MmioRead exit on the next Run, which it records, and a Run with immediate_exit (or after a kick)
/// returns Interrupted at once.
/// </summary>
public sealed class ScriptedVcpu(int id) : IVcpu
{
    private readonly object _sync = new();
    private readonly Queue<(VmExit Exit, byte[]? Data)> _script = new();
    private readonly List<byte[]> _committed = [];
    private readonly List<byte[]> _written = [];
    private byte[] _exitData = [];
    private VmExit? _last;
    private bool _kicked;
    private int _immediateRuns;
    private int _runs;

    public int Id { get; } = id;

    public bool ImmediateExit { get; set; }

    public Span<byte> ExitData => _exitData;

    public int BoundThreadId { get; private set; }

    public string? BoundThreadName { get; private set; }

    /// <summary>Set when the script is used up and the fake is "running the guest".</summary>
    public ManualResetEventSlim Idle { get; } = new(false);

    /// <summary>Set on every Kick.</summary>
    public ManualResetEventSlim KickedEvent { get; } = new(false);

    /// <summary>Called on the vCPU thread when an exit is about to be returned (e.g. to block the loop).</summary>
    public Action<VmExit>? BeforeExit { get; set; }

    public int ImmediateRuns
    {
        get
        {
            lock (_sync)
            {
                return _immediateRuns;
            }
        }
    }

    public int Runs
    {
        get
        {
            lock (_sync)
            {
                return _runs;
            }
        }
    }

    /// <summary>Data of IoIn/MmioRead exits as the guest got it (committed on the following Run).</summary>
    public IReadOnlyList<byte[]> Committed
    {
        get
        {
            lock (_sync)
            {
                return [.. _committed];
            }
        }
    }

    public ScriptedVcpu Then(VmExit exit, byte[]? data = null)
    {
        lock (_sync)
        {
            _script.Enqueue((exit, data));
            Idle.Reset();
            Monitor.PulseAll(_sync);
        }

        return this;
    }

    public void BindToCurrentThread()
    {
        BoundThreadId = Environment.CurrentManagedThreadId;
        BoundThreadName = Thread.CurrentThread.Name;
    }

    /// <summary>True while a Run call is in progress.</summary>
    public bool InRun => Volatile.Read(ref _inRun) != 0;

    private int _inRun;

    public VmExit Run()
    {
        if (Environment.CurrentManagedThreadId != BoundThreadId)
        {
            throw new InvalidOperationException("Run on a thread that did not bind");
        }

        Interlocked.Exchange(ref _inRun, 1);
        try
        {
            return RunCore();
        }
        finally
        {
            Interlocked.Exchange(ref _inRun, 0);
        }
    }

    private VmExit RunCore()
    {
        lock (_sync)
        {
            _runs++;
            if (_last?.Kind is VmExitKind.IoIn or VmExitKind.MmioRead)
            {
                _committed.Add([.. _exitData]);
            }

            _last = null;
            _exitData = [];
            if (ImmediateExit || _kicked)
            {
                if (ImmediateExit)
                {
                    _immediateRuns++;
                }

                ImmediateExit = false;
                _kicked = false;
                return Interrupted();
            }

            while (_script.Count == 0)
            {
                Idle.Set();
                Monitor.Wait(_sync);
                if (_kicked)
                {
                    _kicked = false;
                    return Interrupted();
                }
            }

            var (exit, data) = _script.Dequeue();
            _exitData = data is not null ? [.. data] : new byte[Math.Max(0, exit.Size * exit.Count)];
            _last = exit;
            Monitor.Exit(_sync);
            try
            {
                BeforeExit?.Invoke(exit);
            }
            finally
            {
                Monitor.Enter(_sync);
            }

            return exit;
        }
    }

    public void Kick()
    {
        lock (_sync)
        {
            _kicked = true;
            Monitor.PulseAll(_sync);
        }

        KickedEvent.Set();
    }

    private VmExit Interrupted()
    {
        _last = new VmExit(VmExitKind.Interrupted);
        return _last.Value;
    }
}
