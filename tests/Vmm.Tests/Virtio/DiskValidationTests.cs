using ActorVmm.Host.Composition;
using ActorVmm.Actors.Settings;
using ActorVmm.Host.Settings;
using ActorVmm.Vmm.Tests.Support;

namespace ActorVmm.Vmm.Tests.Virtio;

/// <summary>
/// Disk images are checked while the machine is built, before any KVM resource is opened: a bad one is a one-line
/// <see cref="VmBuildException"/> (the CLI's exit 2). These run without /dev/kvm.
/// </summary>
public sealed class DiskValidationTests
{
    [Fact]
    public void Missing_image_should_be_a_one_line_machine_error()
    {
        var missing = Path.Combine(AppContext.BaseDirectory, $"no-such-{Guid.NewGuid():N}.img");

        var error = BuildFails(new DiskSettings(missing, ReadOnly: false));

        Assert.Contains("disk0", error);
        Assert.Contains("does not exist", error);
        Assert.DoesNotContain('\n', error);
    }

    [Fact]
    public void Empty_image_should_be_rejected()
    {
        using var image = TestImage.Create(0, string.Empty);

        Assert.Contains("empty", BuildFails(new DiskSettings(image.Path, ReadOnly: false)));
    }

    [Fact]
    public void Image_that_is_not_whole_sectors_should_be_rejected()
    {
        using var image = TestImage.Create(4096 + 100, "x");

        Assert.Contains("not a multiple of 512", BuildFails(new DiskSettings(image.Path, ReadOnly: true)));
    }

    [Fact]
    public void The_same_image_twice_should_be_rejected()
    {
        using var image = TestImage.Create(4096, "x");

        var error = BuildFails(new DiskSettings(image.Path, false), new DiskSettings(image.Path, true));

        Assert.Contains("given twice", error);
        Assert.Contains("disk0 and disk1", error);
    }

    private static string BuildFails(params DiskSettings[] disks)
    {
        var reference = SettingsLoader.Reference;
        var settings = reference with { Vm = reference.Vm with { Disks = disks, Kernel = null, Initrd = null } };

        var error = Assert.Throws<VmBuildException>(() => VmBuilder.Build(settings, VmIo.Disconnected));
        return error.Message;
    }
}
