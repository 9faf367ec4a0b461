using ActorVmm.Host.Serve;
using ActorVmm.Testing;

namespace GuestJournal.Tests;

/// <summary>What a test author sees when the VM they ask for cannot be built: one line naming the problem (no KVM needed).</summary>
public sealed class BadSetupTests
{
    [Fact]
    public async Task A_missing_disk_image_is_one_line_naming_it()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"no-such-{Guid.NewGuid():N}.img");
        var error = await Assert.ThrowsAsync<VmServiceException>(() =>
            TestVm.StartAsync(new TestVmOptions { Disks = [new TestDisk(missing)] }, TestContext.Current.CancellationToken));

        Assert.Equal(400, error.Status);
        Assert.Contains(missing, error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public async Task A_fault_spec_that_does_not_parse_is_refused_before_anything_starts()
    {
        var error = await Assert.ThrowsAsync<VmServiceException>(() =>
            TestVm.StartAsync(new TestVmOptions { Faults = ["disk0:explode,every=2"] }, TestContext.Current.CancellationToken));

        Assert.Equal(400, error.Status);
        Assert.Contains("explode", error.Message);
    }
}
