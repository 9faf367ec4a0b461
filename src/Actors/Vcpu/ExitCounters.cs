using ActorVmm.Kvm;

namespace ActorVmm.Actors.Vcpu;

/// <summary>
/// Exits of one VM per <see cref="VmExitKind"/>, counted whether or not tracing is on. Each vCPU thread owns one
/// <see cref="long"/> array indexed by kind (<see cref="ForVcpu"/>) and bumps it with a plain add: no lock, no atomic,
/// no allocation per exit. Readers on any thread sum the arrays with volatile reads; a count may lag a few exits
/// behind its vCPU, never goes back.
/// </summary>
public sealed class ExitCounters
{
    private static readonly VmExitKind[] Kinds = Enum.GetValues<VmExitKind>();
    private static readonly int Slots = Kinds.Max(k => (int)k) + 1;
    private static readonly string[] Names = BuildNames();

    private readonly Lock _sync = new();
    private long[][] _vcpus = [];

    /// <summary>The stable name of a kind: lowercase, words joined by '-' (<c>io-in</c>, <c>mmio-write</c>, <c>system-event</c>).</summary>
    public static string NameOf(VmExitKind kind) => (uint)kind < (uint)Names.Length ? Names[(int)kind] : kind.ToString().ToLowerInvariant();

    /// <summary>A new array of counters for one vCPU's thread (the only writer), added to this VM's totals.</summary>
    public long[] ForVcpu()
    {
        var counts = new long[Slots];
        lock (_sync)
        {
            _vcpus = [.. _vcpus, counts];
        }

        return counts;
    }

    /// <summary>Counts one exit of <paramref name="kind"/> into <paramref name="counts"/>; call only on its vCPU's thread.</summary>
    public static void Count(long[] counts, VmExitKind kind)
    {
        var slot = (uint)kind;
        if (slot < (uint)counts.Length)
        {
            counts[slot]++;
        }
    }

    /// <summary>Exits of <paramref name="kind"/> on all vCPUs so far.</summary>
    public long Get(VmExitKind kind)
    {
        var slot = (int)kind;
        if ((uint)slot >= (uint)Slots)
        {
            return 0;
        }

        long total = 0;
        foreach (var counts in Volatile.Read(ref _vcpus))
        {
            total += Volatile.Read(ref counts[slot]);
        }

        return total;
    }

    /// <summary>Exits of all kinds on all vCPUs so far.</summary>
    public long Total => Kinds.Sum(Get);

    /// <summary>Every kind (zeros included, so the key set never changes) → exits on all vCPUs so far.</summary>
    public IReadOnlyDictionary<string, long> Snapshot()
    {
        var snapshot = new Dictionary<string, long>(Kinds.Length, StringComparer.Ordinal);
        foreach (var kind in Kinds)
        {
            snapshot[NameOf(kind)] = Get(kind);
        }

        return snapshot;
    }

    private static string[] BuildNames()
    {
        var names = new string[Slots];
        foreach (var kind in Kinds)
        {
            names[(int)kind] = kind switch
            {
                VmExitKind.IoIn => "io-in",
                VmExitKind.IoOut => "io-out",
                VmExitKind.MmioRead => "mmio-read",
                VmExitKind.MmioWrite => "mmio-write",
                VmExitKind.SystemEvent => "system-event",
                VmExitKind.InternalError => "internal-error",
                VmExitKind.FailEntry => "fail-entry",
                _ => kind.ToString().ToLowerInvariant(),
            };
        }

        return names;
    }
}
