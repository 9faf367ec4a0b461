using ActorVmm.Actors;
using ActorVmm.Host.Settings;
using ActorVmm.Vmm.Tests.Support;

namespace ActorVmm.Vmm.Tests.Virtio;

/// <summary>
/// Issue #17: the guest must not choose how long the VMM takes to stop. The in-guest fuzzer keeps virtio-blk's ring
/// full of the largest requests while other threads hammer its registers; the host asks the VM to stop (Ctrl-C)
/// in the middle of it. The stop ends within seconds (the figure is printed; the bound only catches a hang).
/// </summary>
[Trait("Category", "Kvm")]
public sealed class FloodStopTests
{
    [Fact]
    public async Task A_vm_flooding_its_disk_should_stop_when_asked_without_waiting_for_the_guest()
    {
        using var image = TestImage.Create(256L << 20, "ACTORVMM-FLOOD");

        var (outcome, run, took) = await GuestRun.BootAndStopAsync(
            1,
            "fuzz",
            s => s with
            {
                Vm = s.Vm with
                {
                    Disks = [new DiskSettings(image.Path, ReadOnly: false)],
                    Cmdline = s.Vm.Cmdline + " fuzz.dev=blk fuzz.seeds=5 fuzz.mode=flood fuzz.seconds=120",
                },
            },
            stopAfter: ("virtio-fuzz: flood start", TimeSpan.FromSeconds(5)));

        Assert.True(took > TimeSpan.Zero, $"the guest ended before the stop was asked ({outcome.Reason}); console:\n{outcome.Tail}");
        Assert.Equal(VmStopReasonKind.HostRequest, outcome.Reason.Kind);
        Assert.True(took < TimeSpan.FromSeconds(30), $"the stop took {took.TotalSeconds:F1} s");
        var disk = run.Devices.Single(d => d.Name == "disk0");
        Console.Error.WriteLine($"flood-stop: the VM stopped {took.TotalMilliseconds:F0} ms after the host asked, mid-flood; disk0 read-timeouts={disk.ReadTimeouts}");
    }
}
