using ActorVmm.Kvm.Interop;
using ActorVmm.Kvm.X86;
using Xunit;

namespace ActorVmm.Kvm.Tests.X86;

/// <summary>
/// Every topology leaf of <see cref="X86Cpuid.ForVcpu(ReadOnlySpan{KvmCpuidEntry2}, CpuTopology, int, bool)"/>,
/// decoded the way Linux 6.1 decodes it (topology.c's detect_extended_topology for 0xB/0x1F, amd.c for 0x8000001E
/// and 0x80000008, cacheinfo for 0x4/0x8000001D): what the guest derives must be the topology asked for.
/// </summary>
public class X86CpuidTopologyTests
{
    private const uint Significant = KvmCpuidEntry2.FlagSignificantIndex;

    public static TheoryData<int, int, int, int> Topologies => new()
    {
        { 1, 1, 4, 1 },
        { 2, 1, 2, 2 },
        { 2, 2, 3, 1 },
        { 1, 1, 254, 1 },
        { 3, 1, 3, 3 },
        { 1, 4, 2, 2 },
    };

    private static KvmCpuidEntry2 Entry(uint function, uint index = 0, uint flags = 0, uint eax = 0, uint ebx = 0, uint ecx = 0, uint edx = 0) =>
        new() { Function = function, Index = index, Flags = flags, Eax = eax, Ebx = ebx, Ecx = ecx, Edx = edx };

    /// <summary>An AMD-flavoured list (TOPOEXT leaves, max basic leaf 0x1F, 0xB present as KVM reports it).</summary>
    private static KvmCpuidEntry2[] Supported() =>
    [
        Entry(0x0, eax: 0x1f, ebx: 0x68747541, ecx: 0x444d4163, edx: 0x69746e65),
        Entry(0x1, eax: 0x00a00f11, ebx: 0x05_20_08_00, ecx: 0x7ef8320b, edx: 0x178bfbff),
        Entry(0x4, 0, Significant, eax: 0x0000_4121),
        Entry(0x4, 1, Significant, eax: 0x0000_4143),
        Entry(0x4, 2, Significant, eax: 0x0000_4163),
        Entry(0x4, 3, Significant, eax: 0),
        Entry(0xb, 0, Significant, eax: 1, ebx: 2, ecx: 0x100, edx: 5),
        Entry(0xb, 1, Significant, eax: 6, ebx: 64, ecx: 0x201, edx: 5),
        Entry(0x80000000, eax: 0x80000021),
        Entry(0x80000001, ecx: 0x75c237ff, edx: 0x2fd3fbff),
        Entry(0x80000006, ecx: 0x02006140, edx: 0x08009140),
        Entry(0x80000008, eax: 0x3030, ecx: 0x0001_703f),
        Entry(0x8000001d, 0, Significant, eax: 0x0000_4121, ebx: 0x01c0003f),
        Entry(0x8000001d, 1, Significant, eax: 0x0000_4143, ebx: 0x01c0003f),
        Entry(0x8000001d, 2, Significant, eax: 0x0003_c163, ebx: 0x03c0003f),
        Entry(0x8000001d, 3, Significant, eax: 0),
        Entry(0x8000001e, eax: 5, ebx: 0x0000_0102, ecx: 0x0000_0300),
    ];

    private static KvmCpuidEntry2 Get(KvmCpuidEntry2[] entries, uint function, uint index = 0) =>
        X86Cpuid.Find(entries, function, index) ?? throw new Xunit.Sdk.XunitException($"leaf 0x{function:x}.{index} missing");

    private static IEnumerable<(KvmCpuidEntry2[] Cpuid, int Index)> All(CpuTopology t) =>
        Enumerable.Range(0, t.Count).Select(i => (X86Cpuid.ForVcpu(Supported(), t, i), i));

    /// <summary>(package, die, core, APIC id) as detect_extended_topology derives them from 0x1F (else 0xB).</summary>
    private static (int Package, int? Die, int Core, int ApicId, int Siblings, int MaxCores) LinuxExtendedTopology(KvmCpuidEntry2[] cpuid)
    {
        var leaf = X86Cpuid.Find(cpuid, 0x1f) is { Ebx: not 0 } && Get(cpuid, 0).Eax >= 0x1f ? 0x1fu : 0xbu;
        var smt = Get(cpuid, leaf, 0);
        Assert.Equal(1u, (smt.Ecx >> 8) & 0xff);
        var apicId = (int)smt.Edx;
        var htWidth = (int)(smt.Eax & 0x1f);
        var siblings = (int)(smt.Ebx & 0xffff);
        int corePlus = htWidth, diePlus = htWidth, pkgWidth = htWidth, coreLevelSiblings = siblings;
        var diePresent = false;
        for (var sub = 1u; ; sub++)
        {
            var e = Get(cpuid, leaf, sub);
            var type = (e.Ecx >> 8) & 0xff;
            Assert.Equal(sub, e.Ecx & 0xff);
            if (type == 2)
            {
                coreLevelSiblings = (int)(e.Ebx & 0xffff);
                corePlus = diePlus = (int)(e.Eax & 0x1f);
            }

            if (type == 5)
            {
                diePresent = true;
                diePlus = (int)(e.Eax & 0x1f);
            }

            if (type == 0)
            {
                break;
            }

            pkgWidth = (int)(e.Eax & 0x1f);
            Assert.Equal((uint)apicId, e.Edx);
        }

        var coreSelect = ~(-1 << pkgWidth) >> htWidth;
        var dieSelect = ~(-1 << diePlus) >> corePlus;
        int? die = diePresent ? (apicId >> corePlus) & dieSelect : null;
        return (apicId >> pkgWidth, die, (apicId >> htWidth) & coreSelect, apicId, siblings, coreLevelSiblings / siblings);
    }

    /// <summary>The ids a topology should show: core numbered within the package (dies included), as Linux does.</summary>
    private static (int Package, int Die, int Core) Expected(CpuTopology t, int index) =>
        (t.SocketId(index), t.DieId(index), (t.DieId(index) << t.CoreBits) | t.CoreId(index));

    [Theory]
    [MemberData(nameof(Topologies))]
    public void Leaf_0xB_and_0x1F_should_give_linux_the_asked_package_die_and_core(int sockets, int dies, int cores, int threads)
    {
        var t = new CpuTopology(sockets, dies, cores, threads);
        foreach (var (cpuid, index) in All(t))
        {
            var linux = LinuxExtendedTopology(cpuid);
            var expected = Expected(t, index);

            Assert.Equal(t.ApicId(index), linux.ApicId);
            Assert.Equal((expected.Package, expected.Core), (linux.Package, linux.Core));
            Assert.Equal(dies > 1 ? expected.Die : null, linux.Die);
            Assert.Equal(threads, linux.Siblings);
            Assert.Equal(dies > 1 ? cores : dies * cores, linux.MaxCores);
        }
    }

    [Fact]
    public void Leaf_0x1F_should_exist_with_a_die_level_only_when_there_are_dies()
    {
        var flat = X86Cpuid.ForVcpu(Supported(), new CpuTopology(2, 1, 2, 2), 0);
        var withDies = X86Cpuid.ForVcpu(Supported(), new CpuTopology(1, 2, 2, 2), 5);

        Assert.DoesNotContain(flat, e => e.Function == 0x1f);
        Assert.Equal(
            [(1u, 1u, 2u), (2u, 2u, 4u), (5u, 3u, 8u), (0u, 0u, 0u)],
            withDies.Where(e => e.Function == 0x1f).OrderBy(e => e.Index).Select(e => ((e.Ecx >> 8) & 0xff, e.Eax, e.Ebx & 0xffff)));
        Assert.All(withDies.Where(e => e.Function == 0x1f), e => Assert.Equal(5u, e.Edx));
        Assert.Equal(3, withDies.Count(e => e.Function == 0xb)); // 0xB keeps SMT + core (the package) + end
    }

    [Theory]
    [MemberData(nameof(Topologies))]
    public void Leaf_1_should_carry_the_apic_id_and_logical_processors_per_package(int sockets, int dies, int cores, int threads)
    {
        var t = new CpuTopology(sockets, dies, cores, threads);
        foreach (var (cpuid, index) in All(t))
        {
            var leaf1 = Get(cpuid, 1);

            Assert.Equal((uint)t.ApicId(index), leaf1.Ebx >> 24);
            Assert.Equal((uint)(dies * cores * threads), (leaf1.Ebx >> 16) & 0xff);
            Assert.Equal(dies * cores * threads > 1, (leaf1.Edx & X86Cpuid.HttBit) != 0);
            Assert.Equal(dies * cores * threads > 1, (Get(cpuid, 0x80000001).Ecx & X86Cpuid.CmpLegacyBit) != 0);
        }
    }

    [Theory]
    [MemberData(nameof(Topologies))]
    public void Cache_leaves_should_share_l1_l2_per_core_and_l3_per_die(int sockets, int dies, int cores, int threads)
    {
        var t = new CpuTopology(sockets, dies, cores, threads);
        var cpuid = X86Cpuid.ForVcpu(Supported(), t, t.Count - 1);

        foreach (var leaf in new uint[] { 0x4, 0x8000001d })
        {
            var sharing = Enumerable.Range(0, 3).Select(i => ((Get(cpuid, leaf, (uint)i).Eax >> 14) & 0xfff) + 1).ToArray();

            Assert.Equal([(uint)threads, (uint)threads, (uint)(cores * threads)], sharing);
            Assert.Equal(0u, Get(cpuid, leaf, 3).Eax);
        }

        // EAX[31:26] is the addressable core ids of a package - 1 (a power of two, as the APIC id's core and die
        // fields are), in 6 bits: 254 cores read as 64.
        var addressable = 1u << (t.PackageOffset - t.CoreOffset);
        Assert.All(Enumerable.Range(0, 3), i => Assert.Equal(Math.Min(addressable, 64) - 1, Get(cpuid, 4, (uint)i).Eax >> 26));
        Assert.True(addressable >= (uint)(dies * cores));
        Assert.Equal(0x163u, Get(cpuid, 0x8000001d, 2).Eax & 0x3fff);
    }

    [Theory]
    [MemberData(nameof(Topologies))]
    public void Amd_leaves_should_give_linux_the_asked_package_core_and_threads(int sockets, int dies, int cores, int threads)
    {
        var t = new CpuTopology(sockets, dies, cores, threads);
        foreach (var (cpuid, index) in All(t))
        {
            var apicId = t.ApicId(index);
            var sizes = Get(cpuid, 0x80000008);
            var topoext = Get(cpuid, 0x8000001e);

            // amd.c: x86_coreid_bits = ApicIdSize, phys_proc_id = initial APIC id >> it; NC + 1 logical per package.
            var coreIdBits = (int)((sizes.Ecx >> 12) & 0xf);
            Assert.Equal(t.SocketId(index), apicId >> coreIdBits);
            Assert.Equal((uint)(dies * cores * threads - 1), sizes.Ecx & 0xff);
            Assert.Equal((0x3030u, 0x0001_0000u), (sizes.Eax, sizes.Ecx & 0xffff_0000)); // PerfTscSize kept

            // amd_get_topology: extended APIC id, core id, smp_num_siblings, node (die) id and nodes per package.
            Assert.Equal((uint)apicId, topoext.Eax);
            Assert.Equal((uint)Expected(t, index).Core, topoext.Ebx & 0xff);
            Assert.Equal((uint)threads, ((topoext.Ebx >> 8) & 0xff) + 1);
            Assert.Equal((uint)(apicId >> t.DieOffset), topoext.Ecx & 0xff);
            Assert.Equal((uint)dies, ((topoext.Ecx >> 8) & 0x7) + 1);
        }
    }

    [Fact]
    public void Amd_smt_without_topoext_from_kvm_should_get_a_synthesized_0x8000001E()
    {
        // What the nested runner's KVM (QEMU TCG -cpu max, kvm-amd) reports: AMD, no TOPOEXT, no 0x8000001D/E.
        var supported = Supported()
            .Where(e => e.Function is not (0x8000001d or 0x8000001e))
            .Select(e => e.Function switch
            {
                0x80000000 => e with { Eax = 0x8000000a },
                0x80000001 => e with { Ecx = e.Ecx & ~X86Cpuid.TopoExtBit },
                _ => e,
            })
            .ToArray();
        var t = new CpuTopology(2, 1, 2, 2);

        var smt = X86Cpuid.ForVcpu(supported, t, 7);
        var noSmt = X86Cpuid.ForVcpu(supported, new CpuTopology(2, 1, 4, 1), 7);

        Assert.Equal(X86Cpuid.TopoExtBit, Get(smt, 0x80000001).Ecx & X86Cpuid.TopoExtBit);
        Assert.Equal(0x8000001eu, Get(smt, 0x80000000).Eax);
        var topoext = Get(smt, 0x8000001e);
        Assert.Equal((7u, 0x0000_0101u, 1u), (topoext.Eax, topoext.Ebx, topoext.Ecx)); // core 1, 2 threads, node 1
        Assert.Equal(0u, Get(noSmt, 0x80000001).Ecx & X86Cpuid.TopoExtBit);
        Assert.Equal(0x8000000au, Get(noSmt, 0x80000000).Eax);
        Assert.DoesNotContain(noSmt, e => e.Function == 0x8000001e);
    }

    [Fact]
    public void Intel_smt_should_not_get_topoext()
    {
        var intel = Supported().Select(e => e.Function == 0 ? e with { Ebx = 0x756e6547, Ecx = 0x6c65746e, Edx = 0x49656e69 } : e)
            .Where(e => e.Function != 0x8000001e)
            .Select(e => e.Function == 0x80000001 ? e with { Ecx = e.Ecx & ~X86Cpuid.TopoExtBit } : e)
            .ToArray();

        var cpuid = X86Cpuid.ForVcpu(intel, new CpuTopology(1, 1, 2, 2), 1);

        Assert.Equal(0u, Get(cpuid, 0x80000001).Ecx & X86Cpuid.TopoExtBit);
        Assert.DoesNotContain(cpuid, e => e.Function == 0x8000001e);
    }

    [Fact]
    public void Invalid_topologies_and_indexes_should_be_refused()
    {
        Assert.Throws<ArgumentException>(() => X86Cpuid.ForVcpu(Supported(), new CpuTopology(3, 1, 65, 1), 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => X86Cpuid.ForVcpu(Supported(), new CpuTopology(2, 1, 2, 2), 8));
    }
}
