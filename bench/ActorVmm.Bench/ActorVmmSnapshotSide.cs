using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using ActorVmm.Host.Api;

namespace ActorVmm.Bench;

/// <summary>
/// The ActorVmm side of <c>bench snapshot</c>. Snapshot: one VM in <c>actorvmm serve</c>, paused at count 3 (its
/// console followed, so the pause comes at once), <c>POST /vms/b/snapshot</c> timed as an API round trip. Cold boot:
/// <c>actorvmm run</c> with the guest's options; restore: <c>actorvmm run --restore DIR --disk COPY</c>, "faulted" the
/// resident part of its mapping of DIR/memory.bin.
/// </summary>
internal sealed class ActorVmmSnapshotSide(SnapshotBench.Guest guest, string work, string actorvmm) : SnapshotBench.ISide
{
    private const string VmId = "b";
    private const string MemoryFile = "memory.bin";

    private readonly string _dir = Path.Combine(work, "actorvmm-snapshot");
    private readonly string _disk = Path.Combine(work, "actorvmm-disk-at-snapshot.img");

    public string Name => "ActorVmm";

    public SnapshotBench.SnapshotFigures Snapshot() => SnapshotAsync().GetAwaiter().GetResult();

    public SnapshotBench.StartFigures ColdBoot(string disk)
    {
        var (file, prefix) = BootBench.Launcher(actorvmm);
        using var vm = CountingGuest.Start(file, [
            .. prefix, "run", "--memory", $"{guest.MemoryMiB}M", "--kernel", guest.Kernel, "--initrd", guest.Initrd,
            "--cmdline", guest.Cmdline, "--disk", disk, "--serial", "stdio",
        ]);
        var first = vm.WaitForCount(1, SnapshotBench.StartTimeout);
        return new SnapshotBench.StartFigures(first.Ms, first.Count, null, null, null);
    }

    public SnapshotBench.StartFigures Restore(string disk)
    {
        File.Copy(_disk, disk, overwrite: true);
        var (file, prefix) = BootBench.Launcher(actorvmm);
        var inode = SnapshotBench.Inode(Path.Combine(_dir, MemoryFile));
        var guestBytes = (ulong)guest.MemoryMiB << 20;
        using var vm = CountingGuest.Start(
            file,
            [.. prefix, "run", "--restore", _dir, "--disk", disk, "--serial", "stdio"],
            pid => SnapshotBench.MappedFileMemory(pid, inode, MemoryFile, guestBytes));
        var first = vm.WaitForCount(1, SnapshotBench.StartTimeout);
        Thread.Sleep(SnapshotBench.LaterSample);
        var later = SnapshotBench.MappedFileMemory(vm.Pid, inode, MemoryFile, guestBytes);
        return new SnapshotBench.StartFigures(first.Ms, first.Count, first.Sample, later,
            vm.FirstRunMs is { } run ? $"guest running again (first KVM_RUN) {run:F0} ms after process start" : null);
    }

    private async Task<SnapshotBench.SnapshotFigures> SnapshotAsync()
    {
        var socket = Path.Combine(work, "actorvmm.sock");
        File.Delete(socket);
        var (file, prefix) = BootBench.Launcher(actorvmm);
        var psi = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in (string[])[.. prefix, "serve", "--api-sock", socket])
        {
            psi.ArgumentList.Add(a);
        }

        using var server = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        var output = new StringBuilder();
        server.ErrorDataReceived += (_, e) => Remember(output, e.Data);
        server.OutputDataReceived += (_, e) => Remember(output, e.Data);
        server.BeginErrorReadLine();
        server.BeginOutputReadLine();
        try
        {
            var wait = Stopwatch.StartNew();
            while (!File.Exists(socket))
            {
                if (server.HasExited || wait.Elapsed > TimeSpan.FromMinutes(1))
                {
                    throw new InvalidOperationException($"actorvmm serve made no socket at {socket}; its output: {Last(output)}");
                }

                await Task.Delay(20);
            }

            using var http = UnixSocketHttp.CreateClient(socket, SnapshotBench.StartTimeout);
            await SendAsync(http, HttpMethod.Put, $"vms/{VmId}", CreateBody());
            int atCount;
            using (var console = await http.GetStreamAsync($"vms/{VmId}/console?follow=true"))
            {
                await SendAsync(http, HttpMethod.Post, $"vms/{VmId}/start", null);
                atCount = await ReadUntilCountAsync(console, SnapshotBench.SnapshotAtCount, SnapshotBench.StartTimeout);
                await SendAsync(http, HttpMethod.Post, $"vms/{VmId}/pause", null);
            }

            var clock = Stopwatch.StartNew();
            var answer = await SendAsync(http, HttpMethod.Post, $"vms/{VmId}/snapshot", JsonSerializer.Serialize(new Dictionary<string, string> { ["dir"] = _dir }));
            var took = clock.Elapsed.TotalMilliseconds;
            // The serving VMM holds the disk locked: copy it as a user would, with cp (.NET's own open asks for a lock).
            using (var cp = Process.Start("cp", ["--sparse=always", guest.Disk, _disk])!)
            {
                cp.WaitForExit();
            }

            using var result = JsonDocument.Parse(answer);
            var root = result.RootElement;
            var (apparent, allocated) = SnapshotBench.FileSizes(_dir);
            var (memoryApparent, memoryAllocated) = SnapshotBench.FileSizes(Path.Combine(_dir, MemoryFile));
            var detail = string.Create(
                CultureInfo.InvariantCulture,
                $"API round trip; server took-ms {Number(root, "took-ms")}, state-bytes {Number(root, "state-bytes")}, memory-bytes {Number(root, "memory-bytes")}, " +
                $"memory-written-bytes {Number(root, "memory-written-bytes")}; {MemoryFile} {memoryApparent} B apparent, {memoryAllocated} B allocated; {_dir}");
            return new SnapshotBench.SnapshotFigures(took, apparent, allocated, atCount, detail);
        }
        finally
        {
            using (var term = Process.Start("kill", ["-TERM", server.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                term.WaitForExit();
            }

            if (!server.WaitForExit(TimeSpan.FromSeconds(30)))
            {
                server.Kill(entireProcessTree: true);
            }
        }
    }

    private string CreateBody()
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteNumber("cpus", 1);
            json.WriteString("memory", $"{guest.MemoryMiB}M");
            json.WriteString("kernel", guest.Kernel);
            json.WriteString("initrd", guest.Initrd);
            json.WriteString("cmdline", guest.Cmdline);
            json.WriteStartArray("disks");
            json.WriteStartObject();
            json.WriteString("path", guest.Disk);
            json.WriteEndObject();
            json.WriteEndArray();
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Sends a request; a status other than 2xx throws with the method, path, status and the answer's first line.</summary>
    private static async Task<string> SendAsync(HttpClient http, HttpMethod method, string path, string? json)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        using var response = await http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"{method} /{path}: {(int)response.StatusCode} {body.Split('\n')[0]}");
        }

        return body;
    }

    /// <summary>Reads the console stream until a count line with N ≥ <paramref name="atLeast"/>; returns that N.</summary>
    private static async Task<int> ReadUntilCountAsync(Stream stream, int atLeast, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        var text = new StringBuilder();
        var buffer = new byte[4096];
        while (true)
        {
            var n = await stream.ReadAsync(buffer, cancel.Token);
            if (n == 0)
            {
                throw new InvalidOperationException($"console ended before count {atLeast}");
            }

            text.Append(Encoding.UTF8.GetString(buffer, 0, n));
            foreach (Match match in CountingGuest.CountLine().Matches(text.ToString()))
            {
                var count = int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
                if (count >= atLeast)
                {
                    return count;
                }
            }

            // Only the unfinished last line can still become a match.
            var lastLine = text.ToString().LastIndexOf('\n');
            if (lastLine >= 0)
            {
                text.Remove(0, lastLine + 1);
            }
        }
    }

    private static string Number(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) ? value.GetRawText() : "-";

    private static void Remember(StringBuilder output, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (output)
        {
            output.AppendLine(line);
            if (output.Length > 4000)
            {
                output.Remove(0, output.Length - 4000);
            }
        }
    }

    private static string Last(StringBuilder output)
    {
        lock (output)
        {
            var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            return lines.Length == 0 ? "(none)" : string.Join(" | ", lines.TakeLast(5));
        }
    }
}
