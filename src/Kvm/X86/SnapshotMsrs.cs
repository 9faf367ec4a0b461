using ActorVmm.Kvm.Interop;

namespace ActorVmm.Kvm.X86;

/// <summary>Reads one batch of MSRs (KVM_GET_MSRS): fills the entries' data in order and returns how many it read.</summary>
public delegate int MsrBatchReader(Span<KvmMsrEntry> entries);

/// <summary>
/// Which MSRs a snapshot saves, in which order, and how the readable ones are collected. KVM_GET_MSR_INDEX_LIST names
/// every MSR KVM saves and restores, but some of them are unreadable for a given vCPU (a feature its CPUID lacks):
/// KVM_GET_MSRS stops at the first one it cannot read and returns how many it read before it.
/// </summary>
public static class SnapshotMsrs
{
    /// <summary>The most MSRs one vCPU snapshot holds (also the codec's bound).</summary>
    public const int MaxMsrs = 4096;

    /// <summary>MSR_KVM_WALL_CLOCK_NEW: guest-physical address of the kvmclock wall clock.</summary>
    public const uint KvmWallClockNew = 0x4b56_4d00;

    /// <summary>MSR_KVM_SYSTEM_TIME_NEW: the vCPU's kvmclock page (address | enable).</summary>
    public const uint KvmSystemTimeNew = 0x4b56_4d01;

    /// <summary>IA32_APIC_BASE.</summary>
    public const uint Ia32ApicBase = 0x1b;

    /// <summary>IA32_TSC_DEADLINE: the LAPIC timer's deadline in guest TSC ticks.</summary>
    public const uint Ia32TscDeadline = 0x6e0;

    /// <summary>
    /// The MSRs to save out of those KVM reports: each once, in KVM's order, except that IA32_TSC comes first and
    /// IA32_TSC_DEADLINE last (on restore the deadline is read against the guest TSC, so the TSC must be set before it).
    /// Nothing KVM reports is dropped: the kvmclock, TSC, TSC deadline and APIC base MSRs stay whenever reported.
    /// </summary>
    public static uint[] Select(ReadOnlySpan<uint> reported)
    {
        var seen = new HashSet<uint>();
        var hasTsc = false;
        var hasDeadline = false;
        var middle = new List<uint>(reported.Length);
        foreach (var index in reported)
        {
            if (!seen.Add(index))
            {
                continue;
            }

            if (index == X86Msrs.Ia32Tsc)
            {
                hasTsc = true;
            }
            else if (index == Ia32TscDeadline)
            {
                hasDeadline = true;
            }
            else
            {
                middle.Add(index);
            }
        }

        if (seen.Count > MaxMsrs)
        {
            throw new KvmException(KvmIoctls.GetMsrIndexList.Name, $"KVM reports {seen.Count} MSRs, a snapshot holds at most {MaxMsrs}");
        }

        var selected = new List<uint>(seen.Count);
        if (hasTsc)
        {
            selected.Add(X86Msrs.Ia32Tsc);
        }

        selected.AddRange(middle);
        if (hasDeadline)
        {
            selected.Add(Ia32TscDeadline);
        }

        return selected.ToArray();
    }

    /// <summary>
    /// Reads <paramref name="indices"/> through <paramref name="read"/>, skipping each MSR the reader stops at
    /// (unreadable) and going on after it: the result holds only the MSRs that were read, in order.
    /// </summary>
    public static KvmMsrEntry[] ReadReadable(ReadOnlySpan<uint> indices, MsrBatchReader read)
    {
        ArgumentNullException.ThrowIfNull(read);
        var entries = new KvmMsrEntry[indices.Length];
        for (var i = 0; i < indices.Length; i++)
        {
            entries[i] = new KvmMsrEntry(indices[i], 0);
        }

        var result = new List<KvmMsrEntry>(entries.Length);
        var next = 0;
        while (next < entries.Length)
        {
            var batch = entries.AsSpan(next);
            var count = read(batch);
            if (count < 0 || count > batch.Length)
            {
                throw new KvmException(KvmIoctls.GetMsrs.Name, $"read {count} of {batch.Length} MSRs");
            }

            result.AddRange(batch[..count]);
            next += count;
            if (next < entries.Length)
            {
                next++; // entries[next - 1] is unreadable: skip it
            }
        }

        return result.ToArray();
    }
}
