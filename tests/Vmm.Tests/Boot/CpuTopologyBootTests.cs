using ActorVmm.Actors;
using ActorVmm.Actors.Vm;
using ActorVmm.Kvm.X86;
using ActorVmm.Vmm.Tests.Support;

namespace ActorVmm.Vmm.Tests.Boot;

/// <summary>
/// The guest kernel derives the topology asked for from CPUID and the APIC ids (tools/guest/tests/topology.sh prints
/// what sysfs shows for each CPU).
/// </summary>
[Trait("Category", "Kvm")]
public sealed class CpuTopologyBootTests
{
    [Fact]
    public async Task Two_sockets_of_two_cores_of_two_threads_should_show_in_sysfs()
    {
        var topology = new CpuTopology(2, 1, 2, 2);

        var outcome = await GuestRun.BootAsync(8, "topology", vm => vm with { Topology = topology });

        Assert.True(outcome.Reason.Kind == VmStopReasonKind.Reset, $"stopped with {outcome.Reason}; console:\n{outcome.Tail}");
        Assert.Equal("8", outcome.Value("topology: nproc="));
        var amd = outcome.Value("topology: vendor=")?.StartsWith("AuthenticAMD", StringComparison.Ordinal) == true;
        var cpus = outcome.Lines("topology: cpu");
        Assert.Equal(8, cpus.Count);
        for (var i = 0; i < 8; i++)
        {
            var socket = topology.SocketId(i);
            var firstThread = i & ~1;

            // AMD's die_id is the node id (0x8000001E): one node per socket here; elsewhere die 0 of the package.
            var expected = $"{i} pkg={socket} die={(amd ? socket : 0)} core={topology.CoreId(i)} " +
                $"threads={firstThread}-{firstThread + 1} cores={socket * 4}-{(socket * 4) + 3}";
            Assert.True(cpus.Contains(expected), $"cpu{expected} missing; guest saw:\n{string.Join('\n', cpus)}");
        }
    }

    /// <summary>
    /// 64 vCPUs do not fit the MP table: only the MADT describes them. Slow in the nested runner (QEMU TCG, one L1
    /// vCPU): 114-166 s for the boot, hence small memory and a one-line guest script.
    /// </summary>
    [Fact]
    public async Task Sixty_four_vcpus_beyond_the_mp_table_should_all_come_up_through_acpi()
    {
        var topology = new CpuTopology(2, 1, 16, 2);
        Assert.False(Kvm.Boot.MpTable.Fits(new Kvm.Boot.MpTableConfig(topology.Count)));

        var outcome = await GuestRun.BootAsync(64, "cpus", vm => vm with { Topology = topology }, memory: 192UL << 20);

        Assert.True(outcome.Reason.Kind == VmStopReasonKind.Reset, $"stopped with {outcome.Reason}; console:\n{outcome.Tail}");
        Assert.Equal("nproc=64 online=0-63 last=pkg1,threads62-63", outcome.Value("cpus:"));
    }
}
