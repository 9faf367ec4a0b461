using System.Numerics;
using ActorVmm.Kvm.Interop;

namespace ActorVmm.Kvm.X86;

/// <summary>
/// Builds one vCPU's CPUID table from KVM_GET_SUPPORTED_CPUID: its APIC ids, a topology consistent across
/// all vCPUs (one package, one thread per core, <c>vcpuCount</c> cores), the hypervisor bit and KVM's
/// paravirt signature. Pure: no KVM needed.
/// </summary>
public static class X86Cpuid
{
    public const uint LeafFeatures = 0x1;
    public const uint LeafCacheParameters = 0x4;
    public const uint LeafExtendedTopology = 0xB;
    public const uint LeafExtendedTopologyV2 = 0x1F;
    public const uint LeafKvmSignature = 0x4000_0000;
    public const uint LeafKvmFeatures = 0x4000_0001;
    public const uint LeafExtendedFeatures = 0x8000_0001;
    public const uint LeafAddressSizes = 0x8000_0008;
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

    /// <summary>"KVMKVMKVM\0\0\0" as EBX, ECX, EDX.</summary>
    public const uint KvmSignatureEbx = 0x4b4d564b;
    public const uint KvmSignatureEcx = 0x564b4d56;
    public const uint KvmSignatureEdx = 0x0000004d;

    private const uint LevelTypeSmt = 1;
    private const uint LevelTypeCore = 2;

    /// <summary>
    /// The CPUID table for vCPU <paramref name="vcpuId"/> of <paramref name="vcpuCount"/> (APIC id = vCPU id); with
    /// <paramref name="tscDeadlineTimer"/> (KVM_CAP_TSC_DEADLINE_TIMER) it offers the TSC-deadline timer.
    /// </summary>
    public static KvmCpuidEntry2[] ForVcpu(
        ReadOnlySpan<KvmCpuidEntry2> supported, int vcpuId, int vcpuCount, bool tscDeadlineTimer = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(vcpuCount, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(vcpuId);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(vcpuId, vcpuCount);
        if (vcpuCount > 255)
        {
            throw new ArgumentOutOfRangeException(nameof(vcpuCount), vcpuCount, "at most 255 vCPUs fit the 8-bit xAPIC id");
        }

        var apicId = (uint)vcpuId;
        var count = (uint)vcpuCount;
        var coreBits = (uint)BitOperations.Log2(BitOperations.RoundUpToPowerOf2(count));
        var result = new List<KvmCpuidEntry2>(supported.Length + 4);
        var topologyLeaves = new SortedSet<uint>();

        foreach (var original in supported)
        {
            var e = original;
            switch (e.Function)
            {
                case LeafFeatures:
                    e.Ebx = (e.Ebx & 0x0000_FFFF) | (apicId << 24) | ((count & 0xFF) << 16);
                    e.Ecx |= HypervisorBit;
                    e.Ecx = tscDeadlineTimer ? e.Ecx | TscDeadlineBit : e.Ecx & ~TscDeadlineBit;
                    e.Edx = count > 1 ? e.Edx | HttBit : e.Edx & ~HttBit;
                    break;

                case LeafCacheParameters:
                    var cacheType = e.Eax & 0x1F;
                    if (cacheType != 0)
                    {
                        var level = (e.Eax >> 5) & 0x7;

                        // One thread per core: L1/L2 are private, L3 (and beyond) is shared by the package.
                        var sharing = level >= 3 ? count - 1 : 0;
                        e.Eax = (e.Eax & 0x0000_3FFF) | ((sharing & 0xFFF) << 14) | (((count - 1) & 0x3F) << 26);
                    }

                    break;

                case LeafExtendedTopology or LeafExtendedTopologyV2:
                    // Regenerated below with the vCPU's x2APIC id.
                    topologyLeaves.Add(e.Function);
                    continue;

                case LeafExtendedFeatures:
                    e.Ecx = count > 1 ? e.Ecx | CmpLegacyBit : e.Ecx & ~CmpLegacyBit;
                    break;

                case LeafAddressSizes:
                    // AMD: ECX[7:0] NC = cores - 1, ECX[15:12] ApicIdCoreIdSize.
                    e.Ecx = (e.Ecx & ~0xF0FFu) | ((count - 1) & 0xFF) | ((coreBits & 0xF) << 12);
                    break;

                case LeafAmdExtendedApicId:
                    e.Eax = apicId;
                    e.Ebx = (e.Ebx & ~0xFFFFu) | (apicId & 0xFF);
                    e.Ecx &= ~0xFFu;
                    break;
            }

            result.Add(e);
        }

        foreach (var leaf in topologyLeaves)
        {
            result.Add(TopologyLevel(leaf, 0, LevelTypeSmt, shift: 0, logicalCount: 1, apicId));
            result.Add(TopologyLevel(leaf, 1, LevelTypeCore, shift: coreBits, logicalCount: count, apicId));
            result.Add(TopologyLevel(leaf, 2, 0, shift: 0, logicalCount: 0, apicId));
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
