using System.Diagnostics;
using System.Globalization;

namespace ActorVmm.Bench;

/// <summary>
/// Snapshot/restore against cold boot, ActorVmm beside QEMU in the same run, per guest memory size. The guest (default
/// kernel + initramfs, one 1 MiB raw disk) runs the snapcount script: <c>count N disk OK</c> five times a second, a
/// cold boot starting at 1, a restore going on from the snapshot's N. Per side: a snapshot taken at count 3 (time and
/// file size, apparent and allocated), then rounds, interleaved (ActorVmm cold, ActorVmm restore, QEMU cold, QEMU
/// restore, ...), each timed from process start to its first count line; at that line (and 2 s later) how much guest
/// memory a restore has faulted in. The first line after a restore also waits out the rest of the guest's 200 ms
/// sleep the snapshot cut into (if the guest's clock stood still meanwhile). Needs /dev/kvm: run it through
/// tools/nested/run-in-kvm.sh where there is none (there /tmp, the default --dir, is a tmpfs).
/// </summary>
internal static class SnapshotBench
{
    internal const int SnapshotAtCount = 3;
    internal static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(5);
    internal static readonly TimeSpan LaterSample = TimeSpan.FromSeconds(2);
    private const string BaseCmdline = "console=ttyS0 reboot=k panic=-1 i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd no_timer_check tsc=reliable quiet";
    private const long DiskBytes = 1 << 20;

    /// <summary>The issue's goal: process start to running again after a restore within a tenth of a cold boot's.</summary>
    private const double GoalRatio = 0.1;

    /// <summary>The guest every side runs; <see cref="Disk"/> is the disk of the VM a side snapshots.</summary>
    internal sealed record Guest(string Kernel, string Initrd, string Cmdline, int MemoryMiB, string Disk);

    /// <summary>A snapshot: time taken (as the caller waits for it), its files' sizes, and the count it was taken at.</summary>
    internal sealed record SnapshotFigures(double TookMs, long ApparentBytes, long AllocatedBytes, int AtCount, string Detail);

    /// <summary>A cold boot or a restore: process start to the first count line, that line's N, and memory at it and 2 s later.</summary>
    internal sealed record StartFigures(double Ms, int Count, RestoreMemory? AtCount, RestoreMemory? Later, string? Detail);

    /// <summary>One VMM's half of the benchmark; each call starts and ends its own processes.</summary>
    internal interface ISide
    {
        string Name { get; }

        SnapshotFigures Snapshot();

        StartFigures ColdBoot(string disk);

        /// <summary>Restores the snapshot onto a copy (at <paramref name="disk"/>) of the disk as it was at the snapshot.</summary>
        StartFigures Restore(string disk);
    }

    private sealed class Results(ISide side)
    {
        public ISide Side { get; } = side;

        public SnapshotFigures? Snapshot { get; set; }

        public List<StartFigures> Cold { get; } = [];

        public List<StartFigures> Restores { get; } = [];
    }

    public static int Run(string[] args)
    {
        var sizes = new List<int> { 256, 1024 };
        var rounds = 3;
        var ours = true;
        var peer = true;
        var repo = BootBench.FindRepo();
        var root = Path.GetTempPath();
        var actorvmm = Path.Combine(repo, "artifacts/actorvmm/actorvmm");
        var kernel = Path.Combine(repo, "artifacts/guest/bzImage");
        var initrd = Path.Combine(repo, "artifacts/guest/initramfs.cpio.gz");
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--no-peer": peer = false; break;
                case "--peer-only": ours = false; break;
                case "--memory" when i + 1 < args.Length:
                    sizes = [.. args[++i].Split(',', StringSplitOptions.RemoveEmptyEntries).Select(s => int.Parse(s, CultureInfo.InvariantCulture))];
                    break;
                case "--rounds" when i + 1 < args.Length: rounds = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--actorvmm" when i + 1 < args.Length: actorvmm = args[++i]; break;
                case "--dir" when i + 1 < args.Length: root = args[++i]; break;
                default:
                    Console.Error.WriteLine($"snapshot: unknown or incomplete option {args[i]}");
                    return 2;
            }
        }

        if (!ours && !peer)
        {
            Console.Error.WriteLine("snapshot: --no-peer and --peer-only leave nothing to run");
            return 2;
        }

        if (ours && !File.Exists(actorvmm))
        {
            Console.Error.WriteLine($"snapshot: no actorvmm at {actorvmm} (tools/setup.sh publishes it; or pass --actorvmm PATH)");
            return 2;
        }

        foreach (var file in new[] { kernel, initrd })
        {
            if (!File.Exists(file))
            {
                Console.Error.WriteLine($"snapshot: {file} is missing: run tools/guest/build-guest.sh artifacts/guest");
                return 2;
            }
        }

        var cmdline = $"{BaseCmdline} actorvmm.script=snapcount";
        Console.WriteLine($"snapshot benchmark: {string.Join(", ", sizes.Select(s => $"{s} MiB"))} guests, {rounds} rounds interleaved, snapshot at count {SnapshotAtCount}, actorvmm {(ours ? actorvmm : "-")}, peer {(peer ? "QEMU" : "-")}, files under {root}");
        Console.WriteLine($"snapshot benchmark: kernel command line: {cmdline}");
        var failures = 0;
        foreach (var memoryMiB in sizes)
        {
            var work = Path.Combine(root, $"actorvmm-snapshot-bench-{Environment.ProcessId}-{memoryMiB}");
            if (Directory.Exists(work))
            {
                Directory.Delete(work, recursive: true);
            }

            Directory.CreateDirectory(work);
            try
            {
                var disk = Path.Combine(work, "disk.img");
                BlankDisk(disk);
                var guest = new Guest(kernel, initrd, cmdline, memoryMiB, disk);
                var sides = new List<ISide>();
                if (ours)
                {
                    sides.Add(new ActorVmmSnapshotSide(guest, work, actorvmm));
                }

                if (peer)
                {
                    sides.Add(new QemuSnapshotPeer(guest, work));
                }

                failures += RunSize(guest, work, [.. sides.Select(s => new Results(s))], rounds);
            }
            finally
            {
                Directory.Delete(work, recursive: true);
            }
        }

        return failures == 0 ? 0 : 1;
    }

    /// <summary>Snapshots, rounds and the table for one memory size; returns the number of failed steps.</summary>
    private static int RunSize(Guest guest, string work, Results[] results, int rounds)
    {
        var failures = 0;
        Console.WriteLine();
        Console.WriteLine($"== {guest.MemoryMiB} MiB guest");
        foreach (var r in results)
        {
            r.Snapshot = Attempt($"{r.Side.Name} snapshot", r.Side.Snapshot, ref failures);
            if (r.Snapshot is { } s)
            {
                Console.WriteLine($"{r.Side.Name,-8} snapshot at count {s.AtCount}: {s.TookMs:F1} ms, files {s.ApparentBytes} B apparent, {s.AllocatedBytes} B allocated; {s.Detail}");
            }
        }

        var cold = Path.Combine(work, "cold.img");
        var restored = Path.Combine(work, "restored.img");
        for (var round = 1; round <= rounds; round++)
        {
            foreach (var r in results)
            {
                BlankDisk(cold);
                if (Attempt($"{r.Side.Name} cold boot", () => r.Side.ColdBoot(cold), ref failures) is { } boot)
                {
                    r.Cold.Add(boot);
                    Console.WriteLine($"{r.Side.Name,-8} round {round}: cold boot {boot.Ms:F0} ms (count {boot.Count})");
                }

                if (r.Snapshot is not null && Attempt($"{r.Side.Name} restore", () => r.Side.Restore(restored), ref failures) is { } back)
                {
                    r.Restores.Add(back);
                    var continued = back.Count > r.Snapshot.AtCount ? string.Empty : $" NOT AFTER THE SNAPSHOT'S {r.Snapshot.AtCount}";
                    Console.WriteLine(
                        $"{r.Side.Name,-8} round {round}: restore {back.Ms:F0} ms (count {back.Count}{continued}), faulted {Fmt(back.AtCount?.FaultedMiB)} MiB at count, " +
                        $"{Fmt(back.Later?.FaultedMiB)} MiB 2 s later ({back.AtCount?.Source ?? "-"}); process RSS {Fmt(back.AtCount?.RssMiB)} MiB{(back.Detail is null ? string.Empty : "; " + back.Detail)}");
                }
            }
        }

        Console.WriteLine();
        Console.WriteLine($"{guest.MemoryMiB} MiB guest, {rounds} rounds: median [min, max]");
        Console.WriteLine($"{"VMM",-8} {"cold boot to count ms",-22} {"restore to count ms",-22} {"restore/cold",12} {"snapshot ms",11} {"snapshot file MiB (apparent / allocated)",40} {"faulted at restore MiB (count / +2 s)",37}");
        foreach (var r in results)
        {
            var coldMs = r.Cold.Select(c => c.Ms).ToArray();
            var restoreMs = r.Restores.Select(c => c.Ms).ToArray();
            var ratio = coldMs.Length > 0 && restoreMs.Length > 0 ? (Median(restoreMs) / Median(coldMs)).ToString("F3", CultureInfo.InvariantCulture) : "-";
            var files = r.Snapshot is { } s ? $"{s.ApparentBytes / 1048576.0:F1} / {s.AllocatedBytes / 1048576.0:F1}" : "-";
            var faulted = $"{Fmt(MedianOf(r.Restores.Select(x => x.AtCount?.FaultedMiB)))} / {Fmt(MedianOf(r.Restores.Select(x => x.Later?.FaultedMiB)))}";
            Console.WriteLine(
                $"{r.Side.Name,-8} {Spread(coldMs),-22} {Spread(restoreMs),-22} {ratio,12} {(r.Snapshot is null ? "-" : r.Snapshot.TookMs.ToString("F0", CultureInfo.InvariantCulture)),11} {files,40} {faulted,37}");
        }

        foreach (var r in results.Where(r => r.Side is ActorVmmSnapshotSide && r.Cold.Count > 0 && r.Restores.Count > 0))
        {
            var ratio = Median([.. r.Restores.Select(x => x.Ms)]) / Median([.. r.Cold.Select(x => x.Ms)]);
            Console.WriteLine($"goal: ActorVmm restore at most {GoalRatio:F2} of its cold boot: {ratio:F3}, {(ratio <= GoalRatio ? "met" : "NOT met")}");
        }

        return failures;
    }

    private static T? Attempt<T>(string what, Func<T> step, ref int failures)
        where T : class
    {
        try
        {
            return step();
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException or OperationCanceledException or IOException or HttpRequestException
            or System.Net.Sockets.SocketException or System.ComponentModel.Win32Exception or System.Text.Json.JsonException or KeyNotFoundException
            or FormatException or UnauthorizedAccessException)
        {
            failures++;
            Console.WriteLine($"{what} failed: {e.Message}");
            return null;
        }
    }

    private static void BlankDisk(string path)
    {
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write);
        file.SetLength(DiskBytes);
    }

    /// <summary>Apparent and allocated bytes (st_blocks × 512, as du counts) of a file, or of all files under a directory.</summary>
    internal static (long Apparent, long Allocated) FileSizes(string path)
    {
        var files = Directory.Exists(path) ? Directory.GetFiles(path, "*", SearchOption.AllDirectories) : [path];
        long apparent = 0;
        long allocated = 0;
        foreach (var file in files)
        {
            apparent += new FileInfo(file).Length;
            allocated += long.Parse(Stat("%b", file), CultureInfo.InvariantCulture) * 512;
        }

        return (apparent, allocated);
    }

    private static string Stat(string format, string path)
    {
        using var stat = Process.Start(new ProcessStartInfo("stat", ["-L", "-c", format, path]) { RedirectStandardOutput = true, UseShellExecute = false })!;
        var answer = stat.StandardOutput.ReadToEnd().Trim();
        stat.WaitForExit();
        return stat.ExitCode == 0 ? answer : throw new IOException($"stat {path} failed");
    }

    /// <summary>Waits until a file written by another process has kept its size for 200 ms (30 s at most).</summary>
    internal static void WaitUntilSizeSettles(string path)
    {
        var clock = Stopwatch.StartNew();
        var last = -1L;
        while (clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            var size = File.Exists(path) ? new FileInfo(path).Length : -1;
            if (size > 0 && size == last)
            {
                return;
            }

            last = size;
            Thread.Sleep(200);
        }
    }

    /// <summary>Resident guest memory as the anonymous mappings at least as large as guest RAM (QEMU's RAM block).</summary>
    internal static RestoreMemory? GuestRamMemory(int pid, ulong guestBytes)
    {
        var mappings = Smaps(pid);
        return mappings is null
            ? null
            : new RestoreMemory(
                mappings.Where(m => m.Anonymous && m.Size >= guestBytes).Sum(m => (double)m.RssKiB) / 1024,
                mappings.Sum(m => (double)m.RssKiB) / 1024,
                "guest RAM mapping");
    }

    /// <summary>
    /// Resident memory of the mappings of the file <paramref name="name"/> with inode <paramref name="inode"/> (a restore's memory image mapped
    /// in: what the guest has faulted in from it, its own writes included); the guest RAM mappings when it is not mapped.
    /// </summary>
    internal static RestoreMemory? MappedFileMemory(int pid, ulong inode, string name, ulong guestBytes)
    {
        var mappings = Smaps(pid);
        if (mappings is null)
        {
            return null;
        }

        // The inode alone could be another file system's; the name alone another directory's.
        var ofFile = mappings.Where(m => m.Inode == inode && m.Path is { } p && p.Contains($"/{name}", StringComparison.Ordinal)).ToArray();
        return ofFile.Length == 0
            ? GuestRamMemory(pid, guestBytes) is { } ram ? ram with { Source = $"{name} not mapped: guest RAM mapping" } : null
            : new RestoreMemory(ofFile.Sum(m => (double)m.RssKiB) / 1024, mappings.Sum(m => (double)m.RssKiB) / 1024, $"{name} mapping");
    }

    /// <summary>A file's inode number (what /proc/PID/smaps names a file mapping by, beside a path that may be a link's).</summary>
    internal static ulong Inode(string path) => ulong.Parse(Stat("%i", path), CultureInfo.InvariantCulture);

    private sealed record Mapping(ulong Size, ulong Inode, string? Path, bool Anonymous, ulong RssKiB);

    private static List<Mapping>? Smaps(int pid)
    {
        try
        {
            var mappings = new List<Mapping>();
            foreach (var line in File.ReadLines($"/proc/{pid}/smaps"))
            {
                // A mapping's header starts with its address range ("start-end perms ..."); its fields with "Name:".
                var space = line.IndexOf(' ');
                if (space > 0 && line.IndexOf('-', 0, space) > 0 && line.IndexOf(':', 0, space) < 0)
                {
                    var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
                    var range = fields[0].Split('-');
                    if (range.Length != 2 || !ulong.TryParse(range[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var start)
                        || !ulong.TryParse(range[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var end))
                    {
                        continue;
                    }

                    var path = fields.Length == 6 ? fields[5].Trim() : null;
                    var inode = fields.Length >= 5 && ulong.TryParse(fields[4], CultureInfo.InvariantCulture, out var i) ? i : 0;
                    mappings.Add(new Mapping(end - start, inode, path, path is null || path.StartsWith('['), 0));
                }
                else if (line.StartsWith("Rss:", StringComparison.Ordinal) && mappings.Count > 0)
                {
                    var kib = ulong.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
                    mappings[^1] = mappings[^1] with { RssKiB = kib };
                }
            }

            return mappings;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? double.NaN : sorted[sorted.Length / 2];
    }

    private static double? MedianOf(IEnumerable<double?> values)
    {
        var present = values.Where(v => v is not null).Select(v => v!.Value).ToArray();
        return present.Length == 0 ? null : Median(present);
    }

    private static string Spread(double[] values) =>
        values.Length == 0 ? "-" : string.Create(CultureInfo.InvariantCulture, $"{Median(values):F0} [{values.Min():F0}, {values.Max():F0}]");

    private static string Fmt(double? value) => value is null ? "-" : value.Value.ToString("F1", CultureInfo.InvariantCulture);
}

/// <summary>
/// Guest memory a restored VMM holds at one moment: the resident part of what backs guest RAM (ActorVmm: its mapping
/// of the snapshot's memory file; QEMU: its RAM block), the whole process's RSS, and which mapping was counted.
/// </summary>
internal sealed record RestoreMemory(double? FaultedMiB, double RssMiB, string Source);
