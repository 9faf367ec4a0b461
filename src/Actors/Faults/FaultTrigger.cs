using System.Globalization;
using ActorVmm.Actors.Settings;

namespace ActorVmm.Actors.Faults;

/// <summary>How a fault plan's trigger is written.</summary>
public enum FaultTriggerKind
{
    /// <summary>No trigger given: every request.</summary>
    Always,

    /// <summary><c>every=N</c>: the Nth, 2Nth, 3Nth... request.</summary>
    Every,

    /// <summary><c>p=P,seed=S</c>: each request with probability P, drawn from a generator seeded with S.</summary>
    Probability,

    /// <summary><c>after=DURATION</c>: once, on the first request at or after DURATION from when the plan was armed (VM build, or when it was added at run time).</summary>
    After,

    /// <summary><c>offset=O</c>: every register access at offset O of the device's range.</summary>
    Offset,
}

/// <summary>When a fault fires. Immutable; the running state lives in <see cref="FaultSchedule"/>.</summary>
public sealed record FaultTrigger(FaultTriggerKind Kind, long Every = 0, double Probability = 0, ulong Seed = 0, TimeSpan After = default, ulong Offset = 0)
{
    public static readonly FaultTrigger Always = new(FaultTriggerKind.Always);

    public static FaultTrigger EveryNth(long n) =>
        n >= 1 ? new(FaultTriggerKind.Every, Every: n) : throw new ArgumentOutOfRangeException(nameof(n), n, "every must be >= 1");

    public static FaultTrigger WithProbability(double p, ulong seed) =>
        p is > 0 and <= 1 ? new(FaultTriggerKind.Probability, Probability: p, Seed: seed) : throw new ArgumentOutOfRangeException(nameof(p), p, "p must be in (0, 1]");

    public static FaultTrigger AfterTime(TimeSpan after) =>
        after >= TimeSpan.Zero ? new(FaultTriggerKind.After, After: after) : throw new ArgumentOutOfRangeException(nameof(after), after, "after must be >= 0");

    public static FaultTrigger AtOffset(ulong offset) => new(FaultTriggerKind.Offset, Offset: offset);

    /// <summary>The spec form: <c>every=100</c>, <c>p=0.01,seed=7</c>, <c>after=5s</c>, <c>offset=0x14</c>, or empty.</summary>
    public override string ToString() => Kind switch
    {
        FaultTriggerKind.Every => $"every={Every}",
        FaultTriggerKind.Probability => string.Create(CultureInfo.InvariantCulture, $"p={Probability},seed={Seed}"),
        FaultTriggerKind.After => $"after={Supervision.RestartBudget.Format(After)}",
        FaultTriggerKind.Offset => $"offset=0x{Offset:x}",
        _ => string.Empty,
    };
}
