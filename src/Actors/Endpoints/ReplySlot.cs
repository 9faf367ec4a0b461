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
    private ulong _value;
    private long _startedTicks;

    /// <summary>The calling thread's slot.</summary>
    public static ReplySlot Current => _current ??= new ReplySlot();

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

        return _done.IsSet || _done.Wait(timeout);
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
                _awaited = 0;
                value = 0;
                startedTicks = 0;
                return false;
            }

            value = _value;
            startedTicks = _startedTicks;
            return true;
        }
    }
}
