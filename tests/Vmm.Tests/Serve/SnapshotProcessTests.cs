using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using ActorVmm.Vmm.Tests.Support;

namespace ActorVmm.Vmm.Tests.Serve;

/// <summary>
/// Snapshot and restore as a user does it, with the Native AOT executable: a 2-vCPU guest counting and writing its
/// disk runs in <c>actorvmm serve</c>, is paused and snapshotted through the API while the guest keeps virtio-blk
/// requests in flight, and that process is killed. A new process (<c>actorvmm run --restore</c>) goes on counting
/// from where the snapshot was, with its disk reading back what it writes; a second serve process restores the same
/// snapshot twice at once (clones, each with its own copy of the disk) and both go on from the same count.
/// </summary>
[Trait("Category", "Kvm")]
public sealed partial class SnapshotProcessTests : IAsyncLifetime
{
    private readonly string _work = Path.Combine(Checkout.Root(), "artifacts", "test-images", $"snap-{Guid.NewGuid():N}");
    private readonly List<ServedProcess> _processes = [];

    public ValueTask InitializeAsync()
    {
        Directory.CreateDirectory(_work);
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes)
        {
            await process.DisposeAsync();
        }

        try
        {
            Directory.Delete(_work, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task A_snapshot_should_restore_in_a_new_process_and_twice_as_clones_going_on_from_its_count()
    {
        var ct = TestContext.Current.CancellationToken;
        var disk = Path.Combine(_work, "disk.img");
        using (var file = File.Create(disk))
        {
            file.SetLength(1 << 20);
        }

        // 1. Boot, count, pause, snapshot, copy the disk while paused, and end that process.
        var first = Start("serve", "--api-sock", Socket("a"));
        await first.WaitForSocketAsync();
        var body = $$"""{"cpus":2,"memory":"256M","disks":[{"path":"{{disk}}"}],"cmdline":"{{GuestRun.BaseCmdline}} actorvmm.script=snapcount"}""";
        await first.ExpectAsync(HttpStatusCode.Created, await first.Http.PutAsync("vms/orig", Json(body), ct));
        await first.ExpectAsync(HttpStatusCode.OK, await first.Http.PostAsync("vms/orig/start", null, ct));
        Assert.True(await ProcessCounts.EventuallyAsync(async () => Counts(await first.ConsoleAsync("orig")).Max >= 5, GuestRun.Deadline),
            "the guest never counted to 5: " + await first.ConsoleAsync("orig"));
        var snapshot = Path.Combine(_work, "snap");
        var snapshotBody = Json($$"""{"dir":"{{snapshot}}"}""");
        await first.ExpectAsync(HttpStatusCode.Conflict, await first.Http.PostAsync("vms/orig/snapshot", snapshotBody, ct));

        // A delay fault holds each disk request on its worker for 700 ms while the guest's two writers queue more:
        // a snapshot then usually holds a request no worker took (tried up to 6 times), served after the restore.
        var fault = await first.ExpectAsync(HttpStatusCode.Created, await first.Http.PostAsync("vms/orig/faults", Json("""{"spec":"disk0:delay,delay=700ms"}"""), ct));
        JsonElement taken = default;
        (int Min, int Max, bool AllOk) atSnapshot = default;
        for (var attempt = 0; attempt < 6; attempt++)
        {
            await Task.Delay(TimeSpan.FromSeconds(2), ct);
            await first.ExpectAsync(HttpStatusCode.OK, await first.Http.PostAsync("vms/orig/pause", null, ct));
            var console = await first.ConsoleAsync("orig");
            atSnapshot = Counts(console);
            Assert.True(atSnapshot.AllOk, "the guest read back what it wrote before the snapshot: " + console);
            taken = await first.ExpectAsync(HttpStatusCode.OK, await first.Http.PostAsync("vms/orig/snapshot", Json($$"""{"dir":"{{snapshot}}"}"""), ct));
            if (taken.GetProperty("waiting-requests").GetInt32() > 0)
            {
                break;
            }

            Directory.Delete(snapshot, recursive: true);
            await first.ExpectAsync(HttpStatusCode.OK, await first.Http.PostAsync("vms/orig/resume", null, ct));
        }

        Assert.True(taken.GetProperty("waiting-requests").GetInt32() > 0, "no snapshot caught a disk request in flight: " + taken);
        await first.ExpectAsync(HttpStatusCode.NoContent, await first.Http.DeleteAsync($"vms/orig/faults/{fault.GetProperty("id").GetString()}", ct));
        Assert.Equal(256L << 20, taken.GetProperty("memory-bytes").GetInt64());
        Assert.True(taken.GetProperty("memory-written-bytes").GetInt64() < (256L << 20), taken.ToString());
        Assert.True(taken.GetProperty("state-bytes").GetInt64() > 0, taken.ToString());
        Assert.True(File.Exists(Path.Combine(snapshot, "state.bin")) && File.Exists(Path.Combine(snapshot, "memory.bin")));
        await first.ExpectAsync(HttpStatusCode.BadRequest, await first.Http.PostAsync("vms/orig/snapshot", Json($$"""{"dir":"{{snapshot}}"}"""), ct));
        var unwritable = await first.ExpectAsync(HttpStatusCode.BadRequest, await first.Http.PostAsync("vms/orig/snapshot", Json("""{"dir":"/proc/actorvmm-snapshot"}"""), ct));
        Assert.Contains("snapshot of VM orig failed", unwritable.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal("paused", (await first.ExpectAsync(HttpStatusCode.OK, await first.Http.GetAsync("vms/orig", ct))).GetProperty("state").GetString());
        var copies = Enumerable.Range(1, 4).Select(i => Path.Combine(_work, $"disk{i}.img")).ToArray();
        foreach (var copy in copies)
        {
            CopyLocked(disk, copy);
        }

        await first.DisposeAsync();

        // 2. A new process restores it: the count goes on from the snapshot's, not from 1, and the disk reads back.
        var clock = Stopwatch.StartNew();
        var restored = Start("run", "--restore", snapshot, "--disk", copies[0], "--serial", "stdio");
        Assert.True(await ProcessCounts.EventuallyAsync(() => Task.FromResult(Counts(restored.Output).Max >= atSnapshot.Max + 3), GuestRun.Deadline),
            $"the restored guest should count on from {atSnapshot.Max}: {restored.Tail}");
        var firstCount = clock.Elapsed;
        var after = Counts(restored.Output);
        Assert.True(after.Min > atSnapshot.Max - 2, $"the restored guest started over (first count {after.Min}, snapshot at {atSnapshot.Max}): {restored.Tail}");
        Assert.True(after.AllOk, "the restored guest's disk should read back what it writes: " + restored.Tail);
        await restored.DisposeAsync();
        var records = DiskCounts(copies[0]);
        Assert.Contains(records, n => n > atSnapshot.Max);

        // 3. One serve process restores the snapshot twice at once, each clone with its own disk copy.
        var second = Start("serve", "--api-sock", Socket("b"));
        await second.WaitForSocketAsync();
        await Task.WhenAll(new[] { ("clone1", copies[1]), ("clone2", copies[2]) }.Select(async c =>
        {
            var info = await second.ExpectAsync(HttpStatusCode.Created, await second.Http.PutAsync($"vms/{c.Item1}",
                Json($$"""{"restore":"{{snapshot}}","disks":[{"path":"{{c.Item2}}"}]}"""), ct));
            Assert.Equal("running", info.GetProperty("state").GetString());
        }));
        foreach (var clone in (string[])["clone1", "clone2"])
        {
            Assert.True(await ProcessCounts.EventuallyAsync(async () => Counts(await second.ConsoleAsync(clone)).Max >= atSnapshot.Max + 3, GuestRun.Deadline),
                $"{clone} should count on from {atSnapshot.Max}: {await second.ConsoleAsync(clone)}");
            var counts = Counts(await second.ConsoleAsync(clone));
            Assert.True(counts.Min > atSnapshot.Max - 2 && counts.AllOk, $"{clone}: {await second.ConsoleAsync(clone)}");
        }

        // A disk that is not the one snapshotted (another size) is refused, and nothing is created; a paused restore
        // stays paused until resumed.
        var other = Path.Combine(_work, "other.img");
        using (var file = File.Create(other))
        {
            file.SetLength(2 << 20);
        }

        await second.ExpectAsync(HttpStatusCode.BadRequest, await second.Http.PutAsync("vms/clone3", Json($$"""{"restore":"{{snapshot}}","disks":[{"path":"{{other}}"}]}"""), ct));
        await second.ExpectAsync(HttpStatusCode.NotFound, await second.Http.GetAsync("vms/clone3", ct));
        var paused = await second.ExpectAsync(HttpStatusCode.Created, await second.Http.PutAsync("vms/clone3",
            Json($$"""{"restore":"{{snapshot}}","start-paused":true,"disks":[{"path":"{{copies[3]}}"}]}"""), ct));
        Assert.Equal("paused", paused.GetProperty("state").GetString());
        await Task.Delay(TimeSpan.FromSeconds(3), ct);
        Assert.DoesNotContain("count ", await second.ConsoleAsync("clone3"));
        await second.ExpectAsync(HttpStatusCode.OK, await second.Http.PostAsync("vms/clone3/resume", null, ct));
        Assert.True(await ProcessCounts.EventuallyAsync(async () => Counts(await second.ConsoleAsync("clone3")).Max > atSnapshot.Max, GuestRun.Deadline),
            "clone3 should count after resume: " + await second.ConsoleAsync("clone3"));
        TestContext.Current.SendDiagnosticMessage(
            $"snapshot: {taken}; restore in a new process to 3 more counts: {firstCount.TotalSeconds:F1} s");
    }

    /// <summary>Copies a disk image the VMM holds locked as a user would, with cp (.NET's own open asks for a shared lock and is refused).</summary>
    private static void CopyLocked(string source, string destination)
    {
        using var cp = Process.Start("cp", ["--sparse=always", source, destination])!;
        cp.WaitForExit();
        Assert.Equal(0, cp.ExitCode);
    }

    private string Socket(string name) => Path.Combine(Path.GetTempPath(), $"actorvmm-snap-{name}-{Guid.NewGuid():N}.sock");

    private ServedProcess Start(params string[] args)
    {
        var process = ServedProcess.Start(args);
        _processes.Add(process);
        return process;
    }

    private static StringContent Json(string json) => ServedProcess.Json(json);

    /// <summary>The counts the guest printed: lowest, highest, and whether every one read its disk record back.</summary>
    private static (int Min, int Max, bool AllOk) Counts(string console)
    {
        var matches = CountLine().Matches(console).Select(m => (N: int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), Ok: m.Groups[2].Value == "OK")).ToList();
        return matches.Count == 0 ? (0, 0, true) : (matches.Min(m => m.N), matches.Max(m => m.N), matches.All(m => m.Ok));
    }

    /// <summary>The "count N" records on a disk image (blocks 1..64).</summary>
    private static List<int> DiskCounts(string image)
    {
        var counts = new List<int>();
        var bytes = File.ReadAllBytes(image);
        for (var block = 1; block <= 64; block++)
        {
            var text = Encoding.ASCII.GetString(bytes, block * 4096, 32).TrimEnd('\0');
            var match = DiskRecord().Match(text);
            if (match.Success)
            {
                counts.Add(int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture));
            }
        }

        return counts;
    }


    [GeneratedRegex(@"^count (\d+) disk (OK|BAD)\r?$", RegexOptions.Multiline)]
    private static partial Regex CountLine();

    [GeneratedRegex(@"^count (\d+)")]
    private static partial Regex DiskRecord();
}
