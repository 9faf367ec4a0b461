using ActorVmm.Actors;
using ActorVmm.Actors.Vm;
using ActorVmm.Host.Settings;
using ActorVmm.Vmm.Tests.Support;

namespace ActorVmm.Vmm.Tests.Boot;

/// <summary>
/// A real distribution: Debian 12 with systemd (tools/rootfs/build-rootfs.sh) boots on Debian's stock kernel and its
/// own initramfs-tools initrd from a virtio-blk root, reaches multi-user.target with no failed unit, and powers the
/// machine off through ACPI S5. The image's actorvmm-check.service (on actorvmm.check=1) reports on the console.
/// </summary>
[Trait("Category", "Kvm")]
public sealed class DistroBootTests
{
    private const string Check = "actorvmm-check:";

    [Fact]
    public async Task Debian_with_systemd_should_reach_multi_user_with_no_failed_unit_and_power_off()
    {
        using var image = await DistroImage.PrepareAsync(TestContext.Current.CancellationToken);

        var outcome = await GuestRun.BootAsync(
            cpus: 1,
            script: string.Empty,
            vm => vm with
            {
                Kernel = DistroImage.Kernel,
                Initrd = DistroImage.Initrd,
                Cmdline = $"{GuestRun.BaseCmdline} root=/dev/vda actorvmm.check=1",
                Disks = [new DiskSettings(image.Disk, ReadOnly: false)],
            },
            memory: 1UL << 30);

        var report = $"stopped with {outcome.Reason}; console:\n{outcome.Tail}";
        var check = CheckLines(outcome.Console);
        Assert.True(check.Contains("state running"), report);
        Assert.True(!check.Any(l => l.StartsWith("failed ", StringComparison.Ordinal)), report);
        Assert.True(check.Contains("done"), report);
        foreach (var line in check.Where(l => l.StartsWith("Startup finished", StringComparison.Ordinal) || l.Contains(".target reached", StringComparison.Ordinal)))
        {
            Console.Error.WriteLine($"distro-boot-figures: {line}");
        }

        Assert.True(outcome.Reason.Kind == VmStopReasonKind.PowerOff, report);
        Assert.Equal(0, outcome.Reason.ExitCode);
    }

    /// <summary>What the check printed, prefix removed: its lines may share a console line with the getty's prompt.</summary>
    private static List<string> CheckLines(string console) =>
        console.Split('\n')
            .Select(l => l.TrimEnd('\r'))
            .Where(l => l.Contains(Check, StringComparison.Ordinal))
            .Select(l => l[(l.IndexOf(Check, StringComparison.Ordinal) + Check.Length)..].Trim())
            .ToList();
}
