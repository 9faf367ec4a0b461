using ActorVmm.Testing;

namespace GuestJournal.Tests;

/// <summary>
/// "My guest's fsync survives disk crashes": the guest's journal (tools/guest/tests/journal.sh) commits records to
/// /dev/vda with an fsync each while the test crashes the disk device every few requests; every committed record must
/// read back intact. Needs KVM (run through tools/nested/run-in-kvm.sh where there is none).
/// </summary>
[Trait("Category", "Kvm")]
public sealed class JournalUnderDiskCrashesTests : IDisposable
{
    private const string Cmdline =
        "console=ttyS0 reboot=k panic=-1 i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd no_timer_check tsc=reliable";

    private readonly string _image = Path.Combine(Path.GetTempPath(), $"journal-{Guid.NewGuid():N}.img");

    public JournalUnderDiskCrashesTests()
    {
        using var file = File.Create(_image);
        file.SetLength(4 << 20);
    }

    [Theory]
    [InlineData("disk0:crash,every=3")]
    [InlineData("disk0:crash,p=0.3,seed=11")]
    public async Task Committed_records_survive_disk_crashes(string fault)
    {
        await using var vm = await TestVm.StartAsync(new TestVmOptions
        {
            Cmdline = $"{Cmdline} actorvmm.script=journal journal.records=48",
            Disks = [new TestDisk(_image)],
            // A crash every third request is far more than the default budget (10 restarts a minute) allows.
            Hocon = "actorvmm.supervision.max-restarts = 1000",
        }, TestContext.Current.CancellationToken);
        await vm.WaitForLineAsync("^journal: start");

        var crashes = await vm.InjectFaultAsync(fault);
        await vm.WaitForLineAsync("^journal: committed 48$");
        Assert.True(crashes.Fired > 0, $"the fault {crashes.Spec} never fired");
        await crashes.RemoveAsync();

        var verified = await vm.WaitForLineAsync(@"^journal: verified (\d+)/(\d+)$");
        Assert.Equal(verified.Groups[2].Value, verified.Groups[1].Value);
        // The guest resets once its journal is verified, so the disk may be stopped by now, but never given up on.
        var disk = vm.Device("disk0");
        Assert.NotEqual("fail-stopped", disk.State);
        Assert.True(disk.Restarts >= crashes.Fired, $"{crashes.Fired} crashes but {disk.Restarts} restarts");

        var exit = await vm.WaitForExitAsync();
        Assert.Equal(0, exit.Code);
    }

    [Fact]
    public async Task A_disk_crashed_on_request_is_restarted_and_the_journal_still_verifies()
    {
        await using var vm = await TestVm.StartAsync(new TestVmOptions
        {
            Cmdline = $"{Cmdline} actorvmm.script=journal journal.records=32",
            Disks = [new TestDisk(_image)],
        }, TestContext.Current.CancellationToken);
        await vm.WaitForLineAsync("^journal: start");
        await vm.CrashDeviceAsync("disk0");

        var verified = await vm.WaitForLineAsync(@"^journal: verified (\d+)/(\d+)$");
        Assert.Equal(verified.Groups[2].Value, verified.Groups[1].Value);
        Assert.True(vm.Device("disk0").Restarts >= 1);
    }

    [Fact]
    public async Task A_disk_that_crashes_beyond_its_restart_budget_stops_the_VM_as_a_device_failure()
    {
        await using var vm = await TestVm.StartAsync(new TestVmOptions
        {
            Cmdline = $"{Cmdline} actorvmm.script=journal journal.records=48",
            Disks = [new TestDisk(_image)],
            Hocon = "actorvmm.supervision { max-restarts = 3, within = 10m }",
        }, TestContext.Current.CancellationToken);
        await vm.WaitForLineAsync("^journal: start");
        await vm.InjectFaultAsync("disk0:crash,every=2");

        var exit = await vm.WaitForExitAsync();

        Assert.Equal("device-failure", exit.Reason);
        Assert.Equal(6, exit.Code);
        Assert.Contains("disk0", exit.Message);
        Assert.DoesNotContain("journal: verified", vm.Console);
    }

    public void Dispose() => File.Delete(_image);
}
