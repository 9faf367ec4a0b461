using ActorVmm.Actors.Settings;
using ActorVmm.Host.Settings;
using ActorVmm.Kvm.Linux;
using ActorVmm.Kvm.Memory;
using ActorVmm.Kvm.X86;
using Xunit;

namespace ActorVmm.Actors.Tests.Settings;

public class SnapshotSettingsSpecs
{
    private static VmSettings Machine() => SettingsLoader.Parse(
        """
        actorvmm.vm {
          cpus = 3
          memory = 384M
          cmdline = "console=ttyS0 quote=\"x\" back\\slash"
          console = virtio
          rng = on
          disks = ["/images/a.img", "/images/b.img,ro"]
          com2 = "file:/tmp/com2.log"
          hugepages = 2M
          nets = ["switch=lan0,mac=52:54:00:00:00:0a,mtu=9000", "tap=tap0,mac=52:54:00:00:00:0b,pcap=/tmp/n1.pcap"]
        }
        """, "vm.conf").Vm;

    [Fact]
    public void Recorded_settings_should_give_back_the_topology_and_old_ones_the_flat_one()
    {
        var machine = SettingsLoader.Parse("actorvmm.vm { cpus = 8, topology = \"sockets=2,threads=2\" }", "vm.conf").Vm;
        var local = SettingsLoader.Parse(string.Empty, "local").Vm;

        var restored = SnapshotSettings.Apply(local, SnapshotSettings.Render(machine, null, null), "snapshot s");
        var old = SnapshotSettings.Apply(local with { Topology = new(1, 1, 1, 1) }, "actorvmm.vm.cpus = 3", "snapshot s");

        Assert.Equal((8, new CpuTopology(2, 1, 2, 2)), (restored.Cpus, restored.Topology));
        Assert.Equal((3, (CpuTopology?)null), (old.Cpus, old.Topology));
    }

    [Fact]
    public void Recorded_settings_should_give_back_the_machine_on_restore()
    {
        var recorded = SnapshotSettings.Render(Machine(), "/k/bzImage", "/k/initrd.gz");

        var restored = SnapshotSettings.Apply(SettingsLoader.Parse(string.Empty, "local").Vm, recorded, "snapshot s");

        Assert.Equal(3, restored.Cpus);
        Assert.Equal(384UL << 20, restored.MemoryBytes);
        Assert.Equal("/k/bzImage", restored.Kernel);
        Assert.Equal("/k/initrd.gz", restored.Initrd);
        Assert.Equal("console=ttyS0 quote=\"x\" back\\slash", restored.Cmdline);
        Assert.Equal(ConsoleDevice.Virtio, restored.Console);
        Assert.True(restored.Rng);
        Assert.Equal([new DiskSettings("/images/a.img", false), new DiskSettings("/images/b.img", true)], restored.Disks);
        Assert.Equal(Machine().Nets, restored.Nets);
        Assert.Equal(HugePages.Size2M, restored.HugePages);
    }

    [Fact]
    public void Pinning_should_be_the_restoring_sides_and_huge_pages_the_snapshots()
    {
        var recorded = SnapshotSettings.Render(Machine() with { PinVcpus = CpuSet.Of(0) }, null, null);
        var local = SettingsLoader.Parse("""actorvmm.vm { pin-io = "0", hugepages = "" }""", "local").Vm;

        var restored = SnapshotSettings.Apply(local, recorded, "snapshot s");

        Assert.DoesNotContain("pin", recorded, StringComparison.Ordinal);
        Assert.Contains("hugepages = \"2M\"", recorded, StringComparison.Ordinal);
        Assert.Null(restored.PinVcpus);
        Assert.Equal(CpuSet.Of(0), restored.PinIo);
        Assert.Equal(HugePages.Size2M, restored.HugePages);
    }

    [Fact]
    public void A_snapshot_recorded_before_huge_pages_should_restore_without_them()
    {
        var recorded = SnapshotSettings.Render(Machine(), null, null).Replace("  hugepages = \"2M\"\n", string.Empty, StringComparison.Ordinal);

        Assert.Equal(HugePages.Off, SnapshotSettings.Apply(SettingsLoader.Parse(string.Empty, "local").Vm, recorded, "snapshot s").HugePages);
    }

    [Fact]
    public void Restore_should_keep_the_snapshots_transports_for_the_disks_and_nics_it_is_given()
    {
        var machine = SettingsLoader.Parse(
            """
            actorvmm.vm {
              transport = mmio
              disks = ["/images/a.img,transport=pci", { path = "/images/b.img", transport = mmio }]
              nets = ["switch=lan0,transport=pci"]
            }
            """, "vm.conf").Vm;
        var recorded = SnapshotSettings.Render(machine, null, null);
        var local = SettingsLoader.Parse("""actorvmm.vm { disks = ["/c/a.img", "/c/b.img"], nets = ["switch=lan9"] }""", "local").Vm;

        var restored = SnapshotSettings.Apply(local, recorded, "snapshot s");

        Assert.Equal(VirtioTransportKind.Mmio, restored.Transport);
        Assert.Equal([VirtioTransportKind.Pci, VirtioTransportKind.Mmio], restored.Disks.Select(d => d.Transport));
        Assert.Equal(["/c/a.img", "/c/b.img"], restored.Disks.Select(d => d.Path));
        Assert.Equal(VirtioTransportKind.Pci, restored.Nets[0].Transport);
    }

    [Fact]
    public void Restore_should_take_given_nics_one_for_one_but_keep_the_snapshots_macs_and_mtus()
    {
        var recorded = SnapshotSettings.Render(Machine(), null, null);
        var local = SettingsLoader.Parse("""actorvmm.vm.nets = ["switch=lan7", "switch=lan8,pcap=/tmp/c.pcap"]""", "local").Vm;

        var restored = SnapshotSettings.Apply(local, recorded, "snapshot s");

        Assert.Equal(["switch=lan7,mac=52:54:00:00:00:0a,mtu=9000", "switch=lan8,mac=52:54:00:00:00:0b,pcap=/tmp/c.pcap"], restored.Nets.Select(n => n.ToString()));
    }

    [Theory]
    [InlineData("""actorvmm.vm.nets = ["switch=lan7"]""", "snapshot s: the snapshot has 2 NIC(s), 1 given: give one for each, in order, or none")]
    [InlineData("""actorvmm.vm.nets = ["switch=a", "switch=b,mac=52:54:00:00:00:0c"]""", "snapshot s: net1 keeps the snapshot's mac 52:54:00:00:00:0b (the guest already uses it), not 52:54:00:00:00:0c")]
    public void Restore_with_nics_that_do_not_fit_the_snapshot_should_fail_in_one_line(string hocon, string expected)
    {
        var recorded = SnapshotSettings.Render(Machine(), null, null);

        var error = Assert.Throws<SettingsException>(() => SnapshotSettings.Apply(SettingsLoader.Parse(hocon, "local").Vm, recorded, "snapshot s"));

        Assert.Equal(expected, error.Message);
    }

    [Fact]
    public void Restore_should_keep_the_local_host_ends_and_take_given_disks_one_for_one()
    {
        var recorded = SnapshotSettings.Render(Machine(), null, null);
        var local = SettingsLoader.Parse("""actorvmm.vm { cpus = 1, com2 = "file:/tmp/local.log", disks = ["/c/1.img", "/c/2.img"] }""", "local").Vm;

        var restored = SnapshotSettings.Apply(local, recorded, "snapshot s");

        Assert.Equal(3, restored.Cpus);
        Assert.Equal(local.Com2, restored.Com2);
        Assert.Equal(local.Serial, restored.Serial);
        Assert.Equal(["/c/1.img", "/c/2.img"], restored.Disks.Select(d => d.Path));
    }

    [Fact]
    public void Restore_with_another_number_of_disks_should_fail_in_one_line()
    {
        var recorded = SnapshotSettings.Render(Machine(), null, null);
        var local = SettingsLoader.Parse("""actorvmm.vm.disks = ["/c/1.img"]""", "local").Vm;

        var error = Assert.Throws<SettingsException>(() => SnapshotSettings.Apply(local, recorded, "snapshot s"));

        Assert.Equal("snapshot s: the snapshot has 2 disk(s), 1 given: give one for each, in order, or none", error.Message);
    }

    [Fact]
    public void Recorded_settings_that_do_not_load_should_fail_in_one_line_naming_the_snapshot()
    {
        var error = Assert.Throws<SettingsException>(() =>
            SnapshotSettings.Apply(SettingsLoader.Parse(string.Empty, "local").Vm, "actorvmm.vm.cpus = 9999", "snapshot s"));

        Assert.StartsWith("snapshot s: its recorded settings do not load: ", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }
}
