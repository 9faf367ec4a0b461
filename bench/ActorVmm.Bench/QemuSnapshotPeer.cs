using System.Diagnostics;
using System.Globalization;

namespace ActorVmm.Bench;

/// <summary>
/// The QEMU side of <c>bench snapshot</c> (Debian's QEMU, the flags BootBench and ServeBench use: <c>-enable-kvm -M pc
/// -cpu host</c>). Snapshot: boot with a QMP socket, at count 3 <c>stop</c> then <c>migrate</c> to
/// <c>exec:cat &gt; FILE</c> until the MIGRATION event says completed. Restore: the cold command line plus
/// <c>-incoming defer</c>, then over QMP <c>migrate-incoming "exec:cat FILE"</c> (as <c>-incoming "exec:cat FILE"</c>,
/// but with migration events on: no polling beside the load) and, on the completed event, <c>cont</c>: a VM stopped
/// when saved stays paused after loading (QEMU restores the saved run state). QEMU reads the whole file at start;
/// "faulted" is the resident part of its guest RAM mapping at the first count line.
/// </summary>
internal sealed class QemuSnapshotPeer(SnapshotBench.Guest guest, string work) : SnapshotBench.ISide
{
    private const string Qemu = "qemu-system-x86_64";

    private readonly string _file = Path.Combine(work, "qemu-vmstate.bin");
    private readonly string _disk = Path.Combine(work, "qemu-disk-at-snapshot.img");
    private int _snapshotCount;

    public string Name => "QEMU";

    public SnapshotBench.SnapshotFigures Snapshot()
    {
        var qmpPath = Path.Combine(work, "qemu-snap.qmp");
        using var vm = CountingGuest.Start(Qemu, [.. Args(guest.Disk), "-qmp", $"unix:{qmpPath},server=on,wait=off"]);
        // Connected before the guest counts, so that the stop follows count 3 at once.
        using var qmp = QmpClient.Connect(qmpPath, TimeSpan.FromMinutes(1));
        qmp.EnableMigrationEvents();
        _snapshotCount = vm.WaitForCount(SnapshotBench.SnapshotAtCount, SnapshotBench.StartTimeout).Count;
        qmp.Execute("stop");
        var clock = Stopwatch.StartNew();
        qmp.Execute("migrate", new { uri = $"exec:cat > '{_file}'" });
        var status = qmp.WaitForMigrationEnd();
        var took = clock.Elapsed.TotalMilliseconds;
        if (status != "completed")
        {
            throw new InvalidOperationException($"QEMU migration to {_file} ended {status}");
        }

        File.Copy(guest.Disk, _disk, overwrite: true);
        qmp.Execute("quit");
        // cat may still be writing the tail QEMU handed it when the migration completed.
        SnapshotBench.WaitUntilSizeSettles(_file);
        var (apparent, allocated) = SnapshotBench.FileSizes(_file);
        return new SnapshotBench.SnapshotFigures(took, apparent, allocated, _snapshotCount, $"stop, then migrate to exec:cat until its completed event; {_file}");
    }

    public SnapshotBench.StartFigures ColdBoot(string disk)
    {
        using var vm = CountingGuest.Start(Qemu, Args(disk));
        var first = vm.WaitForCount(1, SnapshotBench.StartTimeout);
        return new SnapshotBench.StartFigures(first.Ms, first.Count, null, null, null);
    }

    public SnapshotBench.StartFigures Restore(string disk)
    {
        File.Copy(_disk, disk, overwrite: true);
        var qmpPath = Path.Combine(work, "qemu-restore.qmp");
        var guestBytes = (ulong)guest.MemoryMiB << 20;
        using var vm = CountingGuest.Start(
            Qemu,
            [.. Args(disk), "-qmp", $"unix:{qmpPath},server=on,wait=off", "-incoming", "defer"],
            pid => SnapshotBench.GuestRamMemory(pid, guestBytes));
        using var qmp = QmpClient.Connect(qmpPath, TimeSpan.FromMinutes(1));
        qmp.EnableMigrationEvents();
        qmp.Execute("migrate-incoming", new { uri = $"exec:cat '{_file}'" });
        var status = qmp.WaitForMigrationEnd();
        if (status != "completed")
        {
            throw new InvalidOperationException($"QEMU loading {_file} ended {status}");
        }

        var loadedMs = vm.ElapsedMs;
        qmp.Execute("cont");
        var first = vm.WaitForCount(1, SnapshotBench.StartTimeout);
        Thread.Sleep(SnapshotBench.LaterSample);
        var later = SnapshotBench.GuestRamMemory(vm.Pid, guestBytes);
        return new SnapshotBench.StartFigures(first.Ms, first.Count, first.Sample, later, string.Create(CultureInfo.InvariantCulture, $"loaded (cont sent) at {loadedMs:F0} ms"));
    }

    private string[] Args(string disk) =>
    [
        "-enable-kvm", "-M", "pc", "-cpu", "host", "-m", $"{guest.MemoryMiB}", "-smp", "1", "-nographic", "-no-reboot", "-nodefaults",
        "-serial", "stdio", "-monitor", "none", "-kernel", guest.Kernel, "-initrd", guest.Initrd, "-append", guest.Cmdline,
        "-drive", $"file={disk},format=raw,if=virtio",
    ];
}
