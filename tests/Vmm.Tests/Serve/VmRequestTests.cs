using ActorVmm.Host.Serve;
using ActorVmm.Kvm.Linux;
using ActorVmm.Kvm.Memory;

namespace ActorVmm.Vmm.Tests.Serve;

/// <summary>The body of PUT /vms/{id}: HOCON VM keys as JSON, checked like a VM file; errors name the body's key.</summary>
public sealed class VmRequestTests
{
    private static VmServiceException Bad(string json)
    {
        var error = Assert.Throws<VmServiceException>(() => VmRequest.Parse(json));
        Assert.Equal(400, error.Status);
        Assert.DoesNotContain('\n', error.Message);
        return error;
    }

    [Fact]
    public void A_body_should_set_the_vm_keys_and_faults()
    {
        var parsed = VmRequest.Parse("""
            {"cpus": 2, "memory": "128M", "cmdline": "console=ttyS0 x=\"y\"", "rng": true,
             "disks": [{"path": "/tmp/a.img", "read-only": true}], "faults": ["disk0:crash,every=3"]}
            """);

        Assert.Equal(2, parsed.Settings.Vm.Cpus);
        Assert.Equal(128UL << 20, parsed.Settings.Vm.MemoryBytes);
        Assert.Equal("console=ttyS0 x=\"y\"", parsed.Settings.Vm.Cmdline);
        Assert.True(parsed.Settings.Vm.Rng);
        Assert.True(Assert.Single(parsed.Settings.Vm.Disks).ReadOnly);
        Assert.Equal("disk0", Assert.Single(parsed.Settings.Faults).Device);
        Assert.True(parsed.KeepConsole);
    }

    [Fact]
    public void A_body_should_set_the_topology()
    {
        var parsed = VmRequest.Parse("""{"cpus": 8, "topology": "sockets=2,cores=2,threads=2"}""");

        Assert.Equal(new ActorVmm.Kvm.X86.CpuTopology(2, 1, 2, 2), parsed.Settings.Vm.Topology);
    }

    [Fact]
    public void A_restore_body_should_set_the_snapshot_start_paused_and_the_clones_disks()
    {
        var parsed = VmRequest.Parse("""
            {"restore": "/srv/snap-1", "start-paused": true, "disks": ["/srv/clone-1.img", "/srv/shared.img,ro"]}
            """);

        var vm = parsed.Settings.Vm;
        Assert.Equal("/srv/snap-1", vm.Restore);
        Assert.True(vm.StartPaused);
        Assert.Equal([new("/srv/clone-1.img", false), new("/srv/shared.img", true)], vm.Disks);
    }

    [Fact]
    public void A_restore_body_may_name_the_host_ends_and_faults()
    {
        var parsed = VmRequest.Parse("""{"restore": "/srv/snap-1", "serial": "none", "com2": "none", "faults": ["disk0:crash,every=3"]}""");

        Assert.Equal("/srv/snap-1", parsed.Settings.Vm.Restore);
        Assert.False(parsed.KeepConsole);
        Assert.Single(parsed.Settings.Faults);
    }

    [Fact]
    public void An_empty_object_should_give_the_reference_defaults_without_stdio()
    {
        var parsed = VmRequest.Parse("{}");

        Assert.Null(parsed.Settings.Vm.Restore);
        Assert.False(parsed.Settings.Vm.StartPaused);
        Assert.Equal(1, parsed.Settings.Vm.Cpus);
        Assert.NotEqual(ActorVmm.Host.GuestConsole.SerialSpecKind.Stdio, parsed.Settings.Vm.Serial.Kind);
    }

    [Theory]
    [InlineData("{\"cpus\": 1,", "malformed JSON")]
    [InlineData("[1, 2]", "JSON object")]
    [InlineData("\"text\"", "JSON object")]
    [InlineData("{\"cpuz\": 2}", "cpuz")]
    [InlineData("{\"cpus\": \"many\"}", "cpus")]
    [InlineData("{\"cpus\": 999}", "cpus")]
    [InlineData("{\"memory\": \"1K\"}", "memory")]
    [InlineData("{\"cpus\": 8, \"topology\": \"sockets=3\"}", "topology is not a topology of 8 vCPUs: sockets=3,dies=1,threads=1 do not divide 8 vCPUs")]
    [InlineData("{\"cpus\": 4, \"topology\": \"cores=4,threads=0\"}", "threads must be a whole number 1..254")]
    [InlineData("{\"restore\": \"/srv/snap\", \"topology\": \"sockets=2\"}", "topology cannot be given with restore")]
    [InlineData("{\"disks\": [{\"paht\": \"/x\"}]}", "paht")]
    [InlineData("{\"faults\": [\"disk0:explode\"]}", "explode")]
    [InlineData("{\"serial\": \"stdio\"}", "serial")]
    [InlineData("{\"console\": \"hdmi\"}", "console")]
    [InlineData("{\"restor\": \"/srv/snap\"}", "unknown key restor (did you mean restore?)")]
    [InlineData("{\"start-pause\": true}", "unknown key start-pause")]
    [InlineData("{\"start-paused\": \"maybe\"}", "start-paused")]
    [InlineData("{\"restore\": \"/srv/snap\", \"memory\": \"1G\"}", "memory cannot be given with restore: the machine comes from the snapshot")]
    [InlineData("{\"restore\": \"/srv/snap\", \"cpus\": 2}", "cpus cannot be given with restore")]
    [InlineData("{\"kernel\": \"/k\", \"restore\": \"/srv/snap\"}", "kernel cannot be given with restore")]
    [InlineData("{\"restore\": \"/srv/snap\", \"hugepages\": \"2M\"}", "hugepages cannot be given with restore")]
    [InlineData("{\"hugepages\": \"3M\"}", "hugepages must be 2M, 1G or empty (off): 3M")]
    [InlineData("{\"hugepages\": \"1G\", \"memory\": \"512M\"}", "hugepages 1G needs a memory size that is a multiple of 1G, not 512M: 1G")]
    [InlineData("{\"pin-vcpus\": \"0-\"}", "pin-vcpus must be a CPU list such as 0-3 or 2,4,6 ('0-' is not a CPU number or range): 0-")]
    [InlineData("{\"pin-io\": \"4096\"}", "pin-io must be a CPU list such as 0-3 or 2,4,6 (CPU 4096 is out of range")]
    public void A_bad_body_should_be_a_400_naming_the_problem(string json, string named)
    {
        Assert.Contains(named, Bad(json).Message);
    }

    [Fact]
    public void A_pin_list_naming_a_cpu_this_process_may_not_run_on_should_be_a_400()
    {
        var allowed = ThreadScheduling.AllowedCpus();
        var outside = Enumerable.Range(5, CpuSet.MaxCpus - 5).First(c => !allowed.Contains(c));

        Assert.Equal(
            $"pin-vcpus must name CPUs this process may run on ({allowed}), not {outside}: {outside}",
            Bad($"{{\"pin-vcpus\": \"{outside}\"}}").Message);
    }

    [Fact]
    public void Huge_pages_and_pin_lists_should_be_body_keys()
    {
        var vm = VmRequest.Parse("{\"memory\": \"128M\", \"hugepages\": \"2M\", \"pin-vcpus\": \"0\", \"pin-io\": \"0\"}").Settings.Vm;

        Assert.Equal(HugePages.Size2M, vm.HugePages);
        Assert.Equal(CpuSet.Of(0), vm.PinVcpus);
        Assert.Equal(CpuSet.Of(0), vm.PinIo);
    }

    [Fact]
    public void Serial_none_should_keep_no_console()
    {
        Assert.False(VmRequest.Parse("{\"serial\": \"none\"}").KeepConsole);
    }

    [Fact]
    public void Hocon_syntax_inside_strings_should_stay_text()
    {
        var parsed = VmRequest.Parse("{\"cmdline\": \"a=${HOME} b=[1] c={d}\"}");

        Assert.Equal("a=${HOME} b=[1] c={d}", parsed.Settings.Vm.Cmdline);
    }
}
