using ActorVmm.Actors;
using ActorVmm.Actors.Vm;
using ActorVmm.Vmm.Tests.Support;

namespace ActorVmm.Vmm.Tests.Boot;

/// <summary>Debian's stock kernel boots through the actor pipeline on real KVM (nested runner where needed).</summary>
[Trait("Category", "Kvm")]
public sealed class LinuxBootTests
{
    [Fact]
    public async Task Stock_kernel_should_boot_to_init_and_reset_cleanly_with_one_vcpu()
    {
        var (reason, console) = await GuestRun.BootAsync(cpus: 1, script: "boot");

        Assert.Contains("Linux version 6.1.0-56-amd64", console);
        Assert.Contains("BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable", console);
        Assert.Contains("ActorVmm guest init: starting", console);
        Assert.Contains("boot: nproc=1", console);
        Assert.Contains("boot: clockevent=lapic-deadline", console);
        Assert.Contains("boot: clocksource=kvm-clock", console);
        Assert.Contains("ActorVmm guest init: done rc=0", console);
        Assert.True(reason.Kind == VmStopReasonKind.Reset, $"stopped with {reason}; console:\n{Tail(console)}");
        Assert.Equal(0, reason.ExitCode);
    }

    [Fact]
    public async Task Stock_kernel_should_bring_up_both_vcpus_of_a_two_vcpu_vm()
    {
        var (reason, console) = await GuestRun.BootAsync(cpus: 2, script: "boot");

        Assert.Contains("Linux version", console);
        Assert.Contains("ActorVmm guest init: starting", console);
        Assert.Contains("boot: nproc=2", console);
        Assert.Contains("boot: cpuinfo_processors=2", console);
        Assert.True(reason.Kind == VmStopReasonKind.Reset, $"stopped with {reason}; console:\n{Tail(console)}");
    }

    private static string Tail(string text) => text.Length <= 4000 ? text : text[^4000..];
}
