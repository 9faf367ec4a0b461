using ActorVmm.Kvm.Interop;
using ActorVmm.Kvm.X86;
using Xunit;

namespace ActorVmm.Kvm.Tests.X86;

/// <summary>The per-vCPU CPUID transformation on a synthetic KVM_GET_SUPPORTED_CPUID list (no KVM needed).</summary>
public class X86CpuidTests
{
    private const uint Significant = KvmCpuidEntry2.FlagSignificantIndex;

    private static KvmCpuidEntry2 Entry(uint function, uint index = 0, uint flags = 0, uint eax = 0, uint ebx = 0, uint ecx = 0, uint edx = 0) =>
        new() { Function = function, Index = index, Flags = flags, Eax = eax, Ebx = ebx, Ecx = ecx, Edx = edx };

    /// <summary>Roughly what an Intel host's KVM reports (host APIC id 0x17 and 16 logical CPUs in leaf 1).</summary>
    private static KvmCpuidEntry2[] Supported() =>
    [
        Entry(0x0, eax: 0x1f, ebx: 0x756e6547, ecx: 0x6c65746e, edx: 0x49656e69),
        Entry(0x1, eax: 0x000906ea, ebx: 0x17_10_08_00, ecx: 0x7ffafbff, edx: 0x0fabfbff & ~X86Cpuid.HttBit),
        Entry(0x4, 0, Significant, eax: 0x1c00_4121), // L1d, level 1, type 1 (data)
        Entry(0x4, 1, Significant, eax: 0x1c00_4122), // L1i
        Entry(0x4, 2, Significant, eax: 0x1c00_4143), // L2 unified
        Entry(0x4, 3, Significant, eax: 0x1c03_c163), // L3 unified, shared by 16
        Entry(0x4, 4, Significant, eax: 0), // no more caches
        Entry(0xb, 0, Significant, eax: 1, ebx: 2, ecx: 0x100, edx: 0x17),
        Entry(0xb, 1, Significant, eax: 4, ebx: 16, ecx: 0x201, edx: 0x17),
        Entry(X86Cpuid.LeafKvmSignature, eax: 0x40000001, ebx: X86Cpuid.KvmSignatureEbx, ecx: X86Cpuid.KvmSignatureEcx, edx: X86Cpuid.KvmSignatureEdx),
        Entry(X86Cpuid.LeafKvmFeatures, eax: 0x01007afb),
        Entry(0x80000001, ecx: 0x121, edx: 0x2c100800),
        Entry(0x80000008, eax: 0x3027, ecx: 0x0000_700f),
    ];

    private static KvmCpuidEntry2 Get(KvmCpuidEntry2[] entries, uint function, uint index = 0) =>
        X86Cpuid.Find(entries, function, index) ?? throw new Xunit.Sdk.XunitException($"leaf 0x{function:x}.{index} missing");

    [Theory]
    [InlineData(0, 1)]
    [InlineData(2, 4)]
    [InlineData(6, 7)]
    public void Leaf_1_should_carry_the_vcpu_apic_id_and_logical_count(int id, int count)
    {
        var leaf1 = Get(X86Cpuid.ForVcpu(Supported(), id, count), 1);

        Assert.Equal((uint)id, leaf1.Ebx >> 24);
        Assert.Equal((uint)count, (leaf1.Ebx >> 16) & 0xff);
        Assert.Equal(0x0800u, leaf1.Ebx & 0xffff); // CLFLUSH size and brand index kept
    }

    [Fact]
    public void Leaf_1_should_set_the_hypervisor_bit_and_htt_only_with_several_vcpus()
    {
        var single = Get(X86Cpuid.ForVcpu(Supported(), 0, 1), 1);
        var several = Get(X86Cpuid.ForVcpu(Supported(), 0, 2), 1);

        Assert.NotEqual(0u, single.Ecx & X86Cpuid.HypervisorBit);
        Assert.Equal(0u, single.Edx & X86Cpuid.HttBit);
        Assert.NotEqual(0u, several.Edx & X86Cpuid.HttBit);
        Assert.Equal((0x7ffafbffu | X86Cpuid.HypervisorBit) & ~X86Cpuid.TscDeadlineBit, several.Ecx);
    }

    [Fact]
    public void Leaf_1_should_offer_the_tsc_deadline_timer_only_when_kvm_emulates_it()
    {
        var without = Get(X86Cpuid.ForVcpu(Supported(), 0, 1), 1);
        var with = Get(X86Cpuid.ForVcpu(Supported(), 0, 1, tscDeadlineTimer: true), 1);

        Assert.Equal(0u, without.Ecx & X86Cpuid.TscDeadlineBit);
        Assert.Equal(X86Cpuid.TscDeadlineBit, with.Ecx & X86Cpuid.TscDeadlineBit);
        Assert.Equal(without.Ecx | X86Cpuid.TscDeadlineBit, with.Ecx);
    }

    [Fact]
    public void Leaf_0xB_should_describe_one_thread_per_core_and_count_cores_with_the_x2apic_id()
    {
        var entries = X86Cpuid.ForVcpu(Supported(), 5, 6);
        var smt = Get(entries, 0xb, 0);
        var core = Get(entries, 0xb, 1);
        var end = Get(entries, 0xb, 2);

        Assert.Equal((0u, 1u, 0x100u, 5u), (smt.Eax, smt.Ebx, smt.Ecx, smt.Edx));
        Assert.Equal((3u, 6u, 0x201u, 5u), (core.Eax, core.Ebx, core.Ecx, core.Edx)); // 6 cores need 3 id bits
        Assert.Equal((0u, 0u, 2u, 5u), (end.Eax, end.Ebx, end.Ecx, end.Edx));
        Assert.Equal(3, entries.Count(e => e.Function == 0xb));
        Assert.All(entries.Where(e => e.Function == 0xb), e => Assert.Equal(Significant, e.Flags));
    }

    [Fact]
    public void Leaf_4_should_share_l1_l2_per_core_and_l3_per_package()
    {
        var entries = X86Cpuid.ForVcpu(Supported(), 0, 4);

        foreach (var index in new uint[] { 0, 1, 2 })
        {
            var cache = Get(entries, 4, index);
            Assert.Equal(0u, (cache.Eax >> 14) & 0xfff);
            Assert.Equal(3u, cache.Eax >> 26);
        }

        var l3 = Get(entries, 4, 3);
        Assert.Equal(3u, (l3.Eax >> 14) & 0xfff);
        Assert.Equal(3u, l3.Eax >> 26);
        Assert.Equal(0x163u, l3.Eax & 0x3fff); // type, level, self-init kept
        Assert.Equal(0u, Get(entries, 4, 4).Eax); // the terminating null entry stays null
    }

    [Fact]
    public void Kvm_paravirt_leaves_should_pass_through_as_the_kernel_returns_them()
    {
        var entries = X86Cpuid.ForVcpu(Supported(), 0, 1);
        var signature = Get(entries, X86Cpuid.LeafKvmSignature);
        var features = Get(entries, X86Cpuid.LeafKvmFeatures);

        var text = string.Concat(new[] { signature.Ebx, signature.Ecx, signature.Edx }
            .SelectMany(BitConverter.GetBytes).Select(b => (char)b)).TrimEnd('\0');
        Assert.Equal("KVMKVMKVM", text);
        Assert.Equal(0x01007afbu, features.Eax);
        Assert.Single(entries, e => e.Function == X86Cpuid.LeafKvmSignature);
    }

    [Fact]
    public void Kvm_signature_should_be_added_when_the_list_lacks_it()
    {
        var supported = Supported().Where(e => e.Function < 0x40000000).ToArray();

        var signature = Get(X86Cpuid.ForVcpu(supported, 0, 1), X86Cpuid.LeafKvmSignature);

        Assert.Equal((X86Cpuid.KvmSignatureEbx, X86Cpuid.KvmSignatureEcx, X86Cpuid.KvmSignatureEdx), (signature.Ebx, signature.Ecx, signature.Edx));
    }

    [Fact]
    public void Amd_core_count_leaf_should_match_the_vcpu_count()
    {
        var leaf = Get(X86Cpuid.ForVcpu(Supported(), 1, 3), 0x80000008);

        Assert.Equal(2u, leaf.Ecx & 0xff);
        Assert.Equal(2u, (leaf.Ecx >> 12) & 0xf);
        Assert.Equal(0x3027u, leaf.Eax);
    }

    [Fact]
    public void Other_leaves_should_be_kept_unchanged()
    {
        var before = Supported();

        var after = X86Cpuid.ForVcpu(before, 0, 2);

        Assert.Equal(before[0], Get(after, 0));
    }

    [Theory]
    [InlineData(-1, 1)]
    [InlineData(1, 1)]
    [InlineData(0, 0)]
    [InlineData(0, 256)]
    public void Impossible_vcpu_ids_or_counts_should_be_refused(int id, int count)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => X86Cpuid.ForVcpu(Supported(), id, count));
    }
}
