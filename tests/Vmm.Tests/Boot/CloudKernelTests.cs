using ActorVmm.Actors;
using ActorVmm.Actors.Vm;
using ActorVmm.Host.Composition;
using ActorVmm.Vmm.Tests.Support;

namespace ActorVmm.Vmm.Tests.Boot;

/// <summary>
/// Debian's cloud kernel (linux-image-cloud-amd64) is built without CONFIG_X86_MPPARSE: it finds the other CPUs only
/// through ACPI (the MADT), never through the MP table. It boots the default guest's busybox initramfs (its virtio
/// modules are for the stock kernel and do not load, which the boot script does not need).
/// </summary>
[Trait("Category", "Kvm")]
public sealed class CloudKernelTests
{
    [Fact]
    public async Task Cloud_kernel_without_MP_table_parsing_should_bring_up_both_vcpus_through_ACPI()
    {
        var kernel = Directory.GetFiles("/boot", "vmlinuz-*-cloud-amd64").Order(StringComparer.Ordinal).LastOrDefault();
        Assert.True(kernel is not null, "no /boot/vmlinuz-*-cloud-amd64: apt-get install linux-image-cloud-amd64 (tools/setup.sh does)");
        var guest = DefaultGuest.Locate(out var error);
        Assert.True(guest is not null, error);

        var outcome = await GuestRun.BootAsync(
            cpus: 2,
            script: "boot",
            vm => vm with { Kernel = kernel, Initrd = Path.Combine(guest, DefaultGuest.InitrdFile) });

        var report = $"stopped with {outcome.Reason}; console:\n{outcome.Tail}";
        Assert.True(outcome.Console.Contains("-cloud-amd64", StringComparison.Ordinal), report);
        Assert.True(outcome.Console.Contains("smp: Brought up 1 node, 2 CPUs", StringComparison.Ordinal), report);
        Assert.True(outcome.Console.Contains("boot: nproc=2", StringComparison.Ordinal), report);
        Assert.True(outcome.Console.Contains("ActorVmm guest init: done rc=0", StringComparison.Ordinal), report);
        Assert.True(outcome.Reason.Kind is VmStopReasonKind.Reset or VmStopReasonKind.PowerOff, report);
        Assert.Equal(0, outcome.Reason.ExitCode);
    }
}
