using ActorVmm.Testing;

namespace GuestJournal.Tests;

/// <summary>
/// "My guest's journal survives being snapshotted mid-commit": the VM is paused while the journal commits, written to
/// a snapshot and thrown away; a VM restored from the snapshot goes on committing where the first one stopped (it
/// never says "start" again) and every record reads back. Needs KVM (run through tools/nested/run-in-kvm.sh where
/// there is none).
/// </summary>
[Trait("Category", "Kvm")]
public sealed class JournalAcrossSnapshotTests : IDisposable
{
    private const string Cmdline =
        "console=ttyS0 reboot=k panic=-1 i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd no_timer_check tsc=reliable";

    private readonly string _image = Path.Combine(Path.GetTempPath(), $"journal-{Guid.NewGuid():N}.img");
    private readonly string _snapshot = Path.Combine(Path.GetTempPath(), $"journal-snap-{Guid.NewGuid():N}");

    public JournalAcrossSnapshotTests()
    {
        using var file = File.Create(_image);
        file.SetLength(4 << 20);
    }

    [Fact]
    public async Task A_journal_restored_from_a_snapshot_taken_mid_commit_goes_on_and_verifies()
    {
        await using (var vm = await TestVm.StartAsync(new TestVmOptions
        {
            Cpus = 2,
            Cmdline = $"{Cmdline} actorvmm.script=journal journal.records=64",
            Disks = [new TestDisk(_image)],
        }, TestContext.Current.CancellationToken))
        {
            await vm.WaitForLineAsync("^journal: start");
            await vm.PauseAsync();
            Assert.DoesNotContain("journal: committed", vm.Console);

            var snapshot = await vm.SnapshotAsync(_snapshot);

            Assert.True(snapshot.MemoryWrittenBytes < snapshot.MemoryBytes);
        }

        // The first VM is gone and its disk untouched since the snapshot: the restore takes the same image.
        await using var restored = await TestVm.StartAsync(new TestVmOptions
        {
            Restore = _snapshot,
            Disks = [new TestDisk(_image)],
        }, TestContext.Current.CancellationToken);

        var verified = await restored.WaitForLineAsync(@"^journal: verified (\d+)/(\d+)$");
        Assert.Equal("64", verified.Groups[2].Value);
        Assert.Equal(verified.Groups[2].Value, verified.Groups[1].Value);
        Assert.Contains("journal: committed 64", restored.Console);
        Assert.DoesNotContain("journal: start", restored.Console);
    }

    public void Dispose()
    {
        File.Delete(_image);
        if (Directory.Exists(_snapshot))
        {
            Directory.Delete(_snapshot, recursive: true);
        }
    }
}
