namespace ActorVmm.Actors.Faults;

/// <summary>
/// The running state of one plan's trigger (request count, generator, start time). One per plan for the VM's
/// life, shared by every incarnation of the device, so a restart neither resets <c>every=N</c> counts nor replays a
/// <c>p=P,seed=S</c> sequence. Thread-safe.
/// </summary>
public sealed class FaultSchedule
{
    private readonly Lock _sync = new();
    private readonly TimeProvider _time;
    private readonly long _start;
    private SplitMix64 _random;
    private SplitMix64 _effects;
    private long _requests;
    private long _fired;
    private bool _afterFired;

    public FaultSchedule(FaultPlan plan, TimeProvider? time = null)
    {
        Plan = plan;
        _time = time ?? TimeProvider.System;
        _start = _time.GetTimestamp();
        _random = new SplitMix64(plan.Trigger.Seed);

        // The effects (a NIC's jitter, which bits a corrupt flips) draw from their own sequence, so they neither
        // shift nor repeat the trigger's draws.
        _effects = new SplitMix64(plan.Trigger.Seed ^ 0xD1B54A32D192ED03UL);
    }

    public FaultPlan Plan { get; }

    /// <summary>Requests this plan has looked at (the ones its trigger counted).</summary>
    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>Times the trigger fired (each one an injected fault).</summary>
    public long Fired => Interlocked.Read(ref _fired);

    /// <summary>
    /// One request (a register access at <paramref name="offset"/>, or a virtio request when null): does the fault fire?
    /// <c>offset=O</c> fires on every access at O (never for virtio requests); <c>after=D</c> fires once, on the first
    /// request at or after D; <c>every=N</c> on every Nth; <c>p</c> draws once per request.
    /// </summary>
    public bool Fire(ulong? offset)
    {
        lock (_sync)
        {
            _requests++;
            if (!Decide(offset))
            {
                return false;
            }

            _fired++;
            return true;
        }
    }

    /// <summary>The next draw for the fault's effect (jitter, corrupted bit positions): fixed by the plan's seed.</summary>
    internal ulong NextRandom()
    {
        lock (_sync)
        {
            return _effects.Next();
        }
    }

    private bool Decide(ulong? offset)
    {
        var trigger = Plan.Trigger;
        switch (trigger.Kind)
        {
            case FaultTriggerKind.Every:
                return _requests % trigger.Every == 0;
            case FaultTriggerKind.Probability:
                return _random.NextDouble() < trigger.Probability;
            case FaultTriggerKind.After:
                if (_afterFired || _time.GetElapsedTime(_start) < trigger.After)
                {
                    return false;
                }

                _afterFired = true;
                return true;
            case FaultTriggerKind.Offset:
                return offset == trigger.Offset;
            default:
                return true;
        }
    }
}
