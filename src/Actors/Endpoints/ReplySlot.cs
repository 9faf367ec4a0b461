namespace ActorVmm.Actors.Endpoints;

/// <summary>
/// Where a device actor puts the answer to a read a vCPU thread posted. One per thread (the thread that waits is
/// the only one blocked). Tickets make a late reply to an abandoned (timed-out) read harmless.
/// Reads are at most 8 bytes, so the data travels as a <see cref="ulong"/>: no buffers are shared.
/// </summary>
public sealed class ReplySlot
{
    [ThreadStatic]
    private static ReplySlot? _current;

    private readonly ManualResetEventSlim _done = new(false, 0);
    private readonly Lock _sync = new();
    private int _nextTicket;
    private int _awaited;
    private volatile bool _interrupted;
    private ulong _value;
    private long _startedTicks;

    /// <summary>The calling thread's slot.</summary>
    public static ReplySlot Current => _current ??= new ReplySlot();

    /// <summary>True after <see cref="Interrupt"/> until <see cref="ClearInterrupt"/>: waits end at once.</summary>
    public bool Interrupted => _interrupted;

    /// <summary>Ends the current wait (and any until <see cref="ClearInterrupt"/>): the VM is pausing or stopping.</summary>
    public void Interrupt()
    {
        _interrupted = true;
        _done.Set();
    }

    /// <summary>The owning thread runs the guest again: waits wait again.</summary>
    public void ClearInterrupt() => _interrupted = false;

    internal int Begin()
    {
        lock (_sync)
        {
            _nextTicket = _nextTicket == int.MaxValue ? 1 : _nextTicket + 1;
            _awaited = _nextTicket;
            _done.Reset();
            return _awaited;
        }
    }

    /// <summary>
    /// Called by the device actor before it runs a posted read: false when the reader gave up on
    /// <paramref name="ticket"/>, so the read is skipped rather than run after the guest saw all-ones.
    /// </summary>
    internal bool TryClaim(int ticket)
    {
        lock (_sync)
        {
            return ticket == _awaited;
        }
    }

    /// <summary>Called by the device actor. Ignored when the reader has given up on <paramref name="ticket"/>.</summary>
    /// <param name="startedTicks">When the actor took the read (<see cref="ActorVmm.Kvm.Timing.CycleClock"/> ticks; tracing: time queued).</param>
    internal void Complete(int ticket, ulong value, long startedTicks = 0)
    {
        lock (_sync)
        {
            if (ticket != _awaited)
            {
                return;
            }

            _value = value;
            _startedTicks = startedTicks;
            _awaited = 0;
            _done.Set();
        }
    }

    /// <summary>Spins briefly, then blocks, until a reply comes or <paramref name="timeout"/> passes.</summary>
    internal bool Wait(TimeSpan timeout)
    {
        // A short spin catches a reply from a device actor already running on the other core; after that the
        // thread blocks in the kernel, so a waiting vCPU burns no CPU.
        var spin = new SpinWait();
        while (!_done.IsSet && spin.Count < 20)
        {
            spin.SpinOnce(sleep1Threshold: -1);
        }

        return (_done.IsSet || _done.Wait(timeout)) && !_interrupted;
    }

    /// <summary>
    /// Takes the answer to <paramref name="ticket"/> if it came; otherwise gives up on it (false), so a late reply
    /// is dropped and cannot leak into a later read.
    /// </summary>
    internal bool Finish(int ticket, out ulong value) => Finish(ticket, out value, out _);

    /// <inheritdoc cref="Finish(int, out ulong)"/>
    internal bool Finish(int ticket, out ulong value, out long startedTicks)
    {
        lock (_sync)
        {
            if (_awaited == ticket)
            {
                // No answer: give up. A read the actor has not taken yet is skipped (TryClaim); one it is running
                // (a device model that blocks, e.g. an injected delay) finishes unseen.
                _awaited = 0;
                value = 0;
                startedTicks = 0;
                return false;
            }
        }

        lock (_sync)
        {
            value = _value;
            startedTicks = _startedTicks;
            return true;
        }
    }
}
