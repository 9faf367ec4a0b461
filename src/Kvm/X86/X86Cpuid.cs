using ActorVmm.Kvm.Interop;

namespace ActorVmm.Kvm.X86;

/// <summary>
/// Builds one vCPU's CPUID table from KVM_GET_SUPPORTED_CPUID: its APIC ids and a <see cref="CpuTopology"/> described
/// the same way by every leaf a guest reads it from (0x1, 0x4, 0xB, 0x1F, 0x80000001, 0x80000008, 0x8000001D,
/// 0x8000001E), the hypervisor bit and KVM's paravirt signature. Pure: no KVM needed.
/// </summary>
/// <remarks>
/// Linux takes the topology from 0x1F or 0xB when present (APIC id shifts per level; core_id then counts cores in the
/// package, dies included); an AMD guest with TOPOEXT first reads 0x8000001E (core id, threads per core, node id) and
/// 0x80000008 (ApicIdSize: the package shift), and the last-level cache's sharing from 0x8000001D. Counts are actual
/// counts (QEMU's choice); shifts are ceil(log2) of them, so non-power-of-two counts leave gaps in the ids. L1/L2 are
/// per core, L3 per die.
/// </remarks>
public static class X86Cpuid
{
    public const uint LeafVendor = 0x0;
    public const uint LeafFeatures = 0x1;
    public const uint LeafCacheParameters = 0x4;
    public const uint LeafExtendedTopology = 0xB;
    public const uint LeafExtendedTopologyV2 = 0x1F;
    public const uint LeafKvmSignature = 0x4000_0000;
    public const uint LeafKvmFeatures = 0x4000_0001;
    public const uint LeafExtendedFeatures = 0x8000_0001;
    public const uint LeafAddressSizes = 0x8000_0008;
    public const uint LeafAmdCacheTopology = 0x8000_001D;
    public const uint LeafAmdExtendedApicId = 0x8000_001E;

    /// <summary>CPUID.1:ECX[31], "running under a hypervisor".</summary>
    public const uint HypervisorBit = 1u << 31;

    /// <summary>
    /// CPUID.1:ECX[24], the LAPIC timer's TSC-deadline mode. KVM emulates it when KVM_CAP_TSC_DEADLINE_TIMER says so,
    /// but KVM_GET_SUPPORTED_CPUID leaves the bit clear; QEMU and Firecracker set it, and a Linux guest that sees it
    /// skips calibrating the LAPIC timer against the PIT at boot.
    /// </summary>
    public const uint TscDeadlineBit = 1u << 24;

    /// <summary>CPUID.1:EDX[28], HTT: EBX[23:16] is valid.</summary>
    public const uint HttBit = 1u << 28;

    /// <summary>CPUID.80000001h:ECX[1], CmpLegacy (AMD).</summary>
    public const uint CmpLegacyBit = 1u << 1;

    /// <summary>CPUID.80000001h:ECX[22], TOPOEXT (AMD): leaves 0x8000001D/0x8000001E are valid.</summary>
    public const uint TopoExtBit = 1u << 22;

    public const uint LeafExtendedMax = 0x8000_0000;

    /// <summary>"AuthenticAMD" as leaf 0's EBX, EDX, ECX.</summary>
    public const uint AmdVendorEbx = 0x68747541;
    public const uint AmdVendorEdx = 0x69746e65;
    public const uint AmdVendorEcx = 0x444d4163;

    /// <summary>"KVMKVMKVM\0\0\0" as EBX, ECX, EDX.</summary>
    public const uint KvmSignatureEbx = 0x4b4d564b;
    public const uint KvmSignatureEcx = 0x564b4d56;
    public const uint KvmSignatureEdx = 0x0000004d;

    /// <summary>Level types of leaves 0xB/0x1F (ECX[15:8]).</summary>
    public const uint LevelTypeInvalid = 0;
    public const uint LevelTypeSmt = 1;
    public const uint LevelTypeCore = 2;
    public const uint LevelTypeDie = 5;

    /// <summary>The CPUID table for vCPU <paramref name="vcpuId"/> of <paramref name="vcpuCount"/> in the flat topology (APIC id = vCPU id).</summary>
    public static KvmCpuidEntry2[] ForVcpu(
        ReadOnlySpan<KvmCpuidEntry2> supported, int vcpuId, int vcpuCount, bool tscDeadlineTimer = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(vcpuCount, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(vcpuCount, CpuTopology.MaxCount);
        return ForVcpu(supported, CpuTopology.Flat(vcpuCount), vcpuId, tscDeadlineTimer);
    }

    /// <summary>
    /// The CPUID table for vCPU <paramref name="index"/> of <paramref name="topology"/> (its APIC id is
    /// <see cref="CpuTopology.ApicId"/>); with <paramref name="tscDeadlineTimer"/> (KVM_CAP_TSC_DEADLINE_TIMER) it
    /// offers the TSC-deadline timer.
    /// </summary>
    public static KvmCpuidEntry2[] ForVcpu(
        ReadOnlySpan<KvmCpuidEntry2> supported, CpuTopology topology, int index, bool tscDeadlineTimer = false)
    {
        ArgumentNullException.ThrowIfNull(topology);
        if (!topology.IsValid(out var error))
        {
            throw new ArgumentException(error, nameof(topology));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, topology.Count);

        var t = topology;
        var apicId = (uint)t.ApicId(index);
        var perPackage = (uint)t.LogicalPerPackage;
        var perDie = (uint)t.LogicalPerDie;
        var threads = (uint)t.Threads;
        var threadBits = (uint)t.ThreadBits;
        var dieOffset = (uint)t.DieOffset;
        var packageOffset = (uint)t.PackageOffset;

        // Cores in the package, dies included: what Linux's 0xB decoding and 0x8000001E's core id count.
        var coreInPackage = (apicId >> (int)threadBits) & ((1u << (int)(packageOffset - threadBits)) - 1);
        var nodeId = apicId >> (int)dieOffset;
        var maxBasic = 0u;

        // Linux on AMD counts threads only through TOPOEXT (0x8000001E; amd.c reads 0xB only under it). KVM reports it
        // only when the host CPU has it, but it is plain CPUID data: with SMT and no TOPOEXT from KVM it is added,
        // 0x8000001E synthesized and the extended level raised to it, as QEMU does (its KVM code always allows TOPOEXT).
        var synthesizeTopoExt = t.Threads > 1 && IsAmd(supported) && !HasTopoExt(supported);
        var result = new List<KvmCpuidEntry2>(supported.Length + 6);
        var topologyLeaves = new SortedSet<uint>();

        foreach (var original in supported)
        {
            var e = original;
            switch (e.Function)
            {
                case LeafVendor:
                    // A die level needs leaf 0x1F, as QEMU raises the level for it; leaves up to it that KVM
                    // lacks read as zeros.
                    if (t.Dies > 1 && e.Eax >= LeafExtendedTopology && e.Eax < LeafExtendedTopologyV2)
                    {
                        e.Eax = LeafExtendedTopologyV2;
                    }

                    maxBasic = e.Eax;
                    break;

                case LeafFeatures:
                    e.Ebx = (e.Ebx & 0x0000_FFFF) | (apicId << 24) | ((perPackage & 0xFF) << 16);
                    e.Ecx |= HypervisorBit;
                    e.Ecx = tscDeadlineTimer ? e.Ecx | TscDeadlineBit : e.Ecx & ~TscDeadlineBit;
                    e.Edx = perPackage > 1 ? e.Edx | HttBit : e.Edx & ~HttBit;
                    break;

                case LeafCacheParameters:
                    if ((e.Eax & 0x1F) != 0)
                    {
                        var sharing = CacheSharing(e.Eax, threads, perDie);
                        e.Eax = (e.Eax & 0x0000_3FFF) | (((sharing - 1) & 0xFFF) << 14) | ((Math.Min(1u << (t.PackageOffset - t.CoreOffset), 64) - 1) << 26);
                    }

                    break;

                case LeafExtendedTopology or LeafExtendedTopologyV2:
                    // Regenerated below with the vCPU's x2APIC id.
                    topologyLeaves.Add(e.Function);
                    continue;

                case LeafExtendedFeatures:
                    e.Ecx = perPackage > 1 ? e.Ecx | CmpLegacyBit : e.Ecx & ~CmpLegacyBit;
                    e.Ecx = synthesizeTopoExt ? e.Ecx | TopoExtBit : e.Ecx;
                    break;

                case LeafExtendedMax when synthesizeTopoExt:
                    e.Eax = Math.Max(e.Eax, LeafAmdExtendedApicId);
                    break;

                case LeafAddressSizes:
                    // AMD: ECX[7:0] NC = logical processors in the package - 1, ECX[15:12] ApicIdSize (package shift).
                    e.Ecx = (e.Ecx & ~0xF0FFu) | ((perPackage - 1) & 0xFF) | ((packageOffset & 0xF) << 12);
                    break;

                case LeafAmdCacheTopology:
                    if ((e.Eax & 0x1F) != 0)
                    {
                        var sharing = CacheSharing(e.Eax, threads, perDie);
                        e.Eax = (e.Eax & ~(0xFFFu << 14)) | (((sharing - 1) & 0xFFF) << 14);
                    }

                    break;

                case LeafAmdExtendedApicId:
                    // EAX extended APIC id; EBX[7:0] core id, [15:8] threads per core - 1; ECX[7:0] node (die) id,
                    // [10:8] nodes per package - 1.
                    e.Eax = apicId;
                    e.Ebx = (e.Ebx & ~0xFFFFu) | ((threads - 1) << 8) | (coreInPackage & 0xFF);
                    e.Ecx = (e.Ecx & ~0x7FFu) | ((((uint)t.Dies - 1) & 0x7) << 8) | (nodeId & 0xFF);
                    break;
            }

            result.Add(e);
        }

        if (synthesizeTopoExt && !result.Exists(e => e.Function == LeafAmdExtendedApicId))
        {
            result.Add(new KvmCpuidEntry2
            {
                Function = LeafAmdExtendedApicId,
                Eax = apicId,
                Ebx = ((threads - 1) << 8) | (coreInPackage & 0xFF),
                Ecx = ((((uint)t.Dies - 1) & 0x7) << 8) | (nodeId & 0xFF),
            });
        }

        if (t.Dies > 1 && maxBasic >= LeafExtendedTopologyV2)
        {
            topologyLeaves.Add(LeafExtendedTopologyV2);
        }

        foreach (var leaf in topologyLeaves)
        {
            var levels = new List<(uint Type, uint Shift, uint Count)> { (LevelTypeSmt, threadBits, threads) };
            if (leaf == LeafExtendedTopologyV2 && t.Dies > 1)
            {
                levels.Add((LevelTypeCore, dieOffset, perDie));
                levels.Add((LevelTypeDie, packageOffset, perPackage));
            }
            else
            {
                // Leaf 0xB has no die level: its core level spans the package.
                levels.Add((LevelTypeCore, packageOffset, perPackage));
            }

            levels.Add((LevelTypeInvalid, 0, 0));
            for (var i = 0; i < levels.Count; i++)
            {
                result.Add(TopologyLevel(leaf, (uint)i, levels[i].Type, levels[i].Shift, levels[i].Count, apicId));
            }
        }

        if (!result.Exists(e => e.Function == LeafKvmSignature))
        {
            result.Add(new KvmCpuidEntry2
            {
                Function = LeafKvmSignature,
                Eax = LeafKvmFeatures,
                Ebx = KvmSignatureEbx,
                Ecx = KvmSignatureEcx,
                Edx = KvmSignatureEdx,
            });
        }

        return result.ToArray();
    }

    /// <summary>The entry for (<paramref name="function"/>, <paramref name="index"/>), or null.</summary>
    public static KvmCpuidEntry2? Find(ReadOnlySpan<KvmCpuidEntry2> entries, uint function, uint index = 0)
    {
        foreach (var e in entries)
        {
            if (e.Function == function
                && ((e.Flags & KvmCpuidEntry2.FlagSignificantIndex) == 0 || e.Index == index))
            {
                return e;
            }
        }

        return null;
    }

    private static bool IsAmd(ReadOnlySpan<KvmCpuidEntry2> supported) =>
        Find(supported, LeafVendor) is { Ebx: AmdVendorEbx, Edx: AmdVendorEdx, Ecx: AmdVendorEcx };

    private static bool HasTopoExt(ReadOnlySpan<KvmCpuidEntry2> supported) =>
        Find(supported, LeafExtendedFeatures) is { } e && (e.Ecx & TopoExtBit) != 0;

    /// <summary>Logical processors sharing the cache a leaf 4 / 0x8000001D EAX describes: L1/L2 a core's threads, L3 and beyond a die's.</summary>
    private static uint CacheSharing(uint eax, uint threadsPerCore, uint logicalPerDie) =>
        ((eax >> 5) & 0x7) >= 3 ? logicalPerDie : threadsPerCore;

    private static KvmCpuidEntry2 TopologyLevel(uint leaf, uint index, uint type, uint shift, uint logicalCount, uint x2apicId) =>
        new()
        {
            Function = leaf,
            Index = index,
            Flags = KvmCpuidEntry2.FlagSignificantIndex,
            Eax = shift & 0x1F,
            Ebx = logicalCount & 0xFFFF,
            Ecx = (type << 8) | (index & 0xFF),
            Edx = x2apicId,
        };
}
