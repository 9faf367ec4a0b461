using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using ActorVmm.Vmm.Tests.Support;

namespace ActorVmm.Vmm.Tests.Serve;

/// <summary>
/// One <c>actorvmm serve</c> process (the Native AOT executable) hosting four VMs of the default guest, driven through
/// its REST API as a user would: they boot at once, one pauses while the others go on, a disk crash fault added at
/// run time to one VM restarts that VM's disk only, /metrics has every VM's series, and deleting the VMs leaves no
/// VMM thread and no fd behind in the server.
/// </summary>
[Trait("Category", "Kvm")]
public sealed partial class ServeProcessTests : IAsyncLifetime
{
    private const int Vms = 4;
    private readonly string _socket = Path.Combine(Path.GetTempPath(), $"actorvmm-{Guid.NewGuid():N}.sock");
    private readonly string _config = Path.Combine(Path.GetTempPath(), $"actorvmm-{Guid.NewGuid():N}.conf");
    private readonly List<TestImage> _images = [];
    private readonly StringBuilder _serverLog = new();
    private Process _server = null!;
    private HttpClient _http = null!;

    public async ValueTask InitializeAsync()
    {
        var executable = Path.Combine(Checkout.Root(), "artifacts", "actorvmm", "actorvmm");
        Assert.True(File.Exists(executable), $"{executable} is missing: tools/setup.sh publishes it");
        var psi = new ProcessStartInfo(executable) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        // The server's own VM file: its settings are every VM's defaults (here a restart budget no fault test exhausts).
        await File.WriteAllTextAsync(_config, "actorvmm.supervision.max-restarts = 1000\n");
        foreach (var arg in (string[])["serve", "--api-sock", _socket, "--config", _config])
        {
            psi.ArgumentList.Add(arg);
        }

        _server = Process.Start(psi)!;
        _server.ErrorDataReceived += (_, e) => { lock (_serverLog) { _serverLog.AppendLine(e.Data); } };
        _server.OutputDataReceived += (_, e) => { lock (_serverLog) { _serverLog.AppendLine(e.Data); } };
        _server.BeginErrorReadLine();
        _server.BeginOutputReadLine();
        _http = ActorVmm.Host.Api.UnixSocketHttp.CreateClient(_socket, TimeSpan.FromMinutes(2));
        Assert.True(await ProcessCounts.EventuallyAsync(() => File.Exists(_socket) || _server.HasExited, TimeSpan.FromSeconds(60)), "the server never listened");
        Assert.False(_server.HasExited, $"serve exited {(_server.HasExited ? _server.ExitCode : 0)}: {ServerLog}");
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        if (!_server.HasExited)
        {
            _server.Kill(entireProcessTree: true);
            await _server.WaitForExitAsync();
        }

        _server.Dispose();
        File.Delete(_config);
        foreach (var image in _images)
        {
            image.Dispose();
        }
    }

    private string ServerLog
    {
        get
        {
            lock (_serverLog)
            {
                var text = _serverLog.ToString();
                return text.Length <= 4000 ? text : text[^4000..];
            }
        }
    }

    [Fact]
    public async Task Four_VMs_in_one_serve_process_boot_pause_take_faults_export_metrics_and_leave_nothing_behind()
    {
        var ct = TestContext.Current.CancellationToken;
        var pid = _server.Id;

        // A first VM built and deleted: what the process opens once for good is then not counted as a leak.
        await Expect(HttpStatusCode.Created, await _http.PutAsync("vms/warm-up", Json(Body()), ct));
        await Expect(HttpStatusCode.NoContent, await _http.DeleteAsync("vms/warm-up", ct));
        var fdsBefore = ProcessCounts.NonSocketFds(pid);

        var ids = Enumerable.Range(1, Vms).Select(i => $"vm{i}").ToArray();
        await Task.WhenAll(ids.Select(async id => await Expect(HttpStatusCode.Created, await _http.PutAsync($"vms/{id}", Json(Body()), ct))));
        await Task.WhenAll(ids.Select(async id =>
        {
            var started = await Expect(HttpStatusCode.OK, await _http.PostAsync($"vms/{id}/start", null, ct));
            Assert.Equal("running", started.GetProperty("state").GetString());
        }));
        foreach (var id in ids)
        {
            Assert.True(await ProcessCounts.EventuallyAsync(async () => await TickAsync(id) >= 3, GuestRun.Deadline), $"{id} never ticked: {await ConsoleAsync(id)}");
        }

        // Paused: vm1's console stops while the others go on; resumed: it goes on.
        var paused = await Expect(HttpStatusCode.OK, await _http.PostAsync("vms/vm1/pause", null, ct));
        Assert.Equal("paused", paused.GetProperty("state").GetString());
        var frozenAt = await TickAsync("vm1");
        var othersAt = await TickAsync("vm2");
        Assert.True(await ProcessCounts.EventuallyAsync(async () => await TickAsync("vm2") >= othersAt + 5, TimeSpan.FromSeconds(120)), "vm2 should keep running while vm1 is paused");
        Assert.Equal(frozenAt, await TickAsync("vm1"));
        await Expect(HttpStatusCode.Conflict, await _http.PostAsync("vms/vm1/pause", null, ct));
        var resumed = await Expect(HttpStatusCode.OK, await _http.PostAsync("vms/vm1/resume", null, ct));
        Assert.Equal("running", resumed.GetProperty("state").GetString());
        Assert.True(await ProcessCounts.EventuallyAsync(async () => await TickAsync("vm1") > frozenAt, TimeSpan.FromSeconds(120)), "vm1 should tick again after resume");

        // A crash fault added at run time to vm2's disk: vm2's disk restarts, vm3's counters stay 0. vm2 is traced
        // meanwhile (attached and detached at run time): its faults are in the trace beside its exits.
        var trace = Path.Combine(Path.GetTempPath(), $"vm2-{Guid.NewGuid():N}.jsonl");
        await Expect(HttpStatusCode.NoContent, await _http.PostAsync("vms/vm2/trace", Json($$"""{"file":"{{trace}}","format":"jsonl"}"""), ct));
        var fault = await Expect(HttpStatusCode.Created, await _http.PostAsync("vms/vm2/faults", Json("""{"spec":"disk0:crash,every=3"}"""), ct));
        var faultId = fault.GetProperty("id").GetString();
        Assert.True(await ProcessCounts.EventuallyAsync(async () => Disk(await GetAsync("vms/vm2/devices")).GetProperty("restarts").GetInt64() >= 2, TimeSpan.FromSeconds(120)),
            "vm2's disk should restart under the fault: " + (await GetAsync("vms/vm2/devices")).ToString());
        await Expect(HttpStatusCode.NoContent, await _http.DeleteAsync($"vms/vm2/faults/{faultId}", ct));
        await Expect(HttpStatusCode.NoContent, await _http.DeleteAsync("vms/vm2/trace", ct));
        var traced = await File.ReadAllLinesAsync(trace, ct);
        File.Delete(trace);
        Assert.Contains(traced, l => l.Contains("\"type\":\"fault\"", StringComparison.Ordinal) && l.Contains("\"device\":\"disk0\"", StringComparison.Ordinal));
        Assert.Contains(traced, l => l.Contains("\"vcpu\":0", StringComparison.Ordinal));
        var stats = await GetAsync("vms/vm2/stats");
        Assert.True(stats.GetProperty("total-exits").GetInt64() > 0, stats.ToString());
        Assert.NotEmpty(stats.GetProperty("by-device").EnumerateArray());
        var vm2Disk = Disk(await GetAsync("vms/vm2/devices"));
        Assert.True(vm2Disk.GetProperty("faults-fired").GetInt64() >= 2);
        var vm3Disk = Disk(await GetAsync("vms/vm3/devices"));
        Assert.Equal(0, vm3Disk.GetProperty("restarts").GetInt64());
        Assert.Equal(0, vm3Disk.GetProperty("failures").GetInt64());
        Assert.Equal(0, vm3Disk.GetProperty("faults-fired").GetInt64());
        var vm2Ticks = await TickAsync("vm2");
        Assert.True(await ProcessCounts.EventuallyAsync(async () => await TickAsync("vm2") > vm2Ticks + 2, TimeSpan.FromSeconds(120)), "vm2 should go on once the fault is removed");

        // /metrics: Prometheus text with every VM's series.
        var metrics = await _http.GetStringAsync("metrics", ct);
        var samples = ParseMetrics(metrics);
        foreach (var id in ids)
        {
            Assert.Contains(samples, s => s.Name == "actorvmm_vm_exits_total" && s.Labels.Contains($"vm=\"{id}\"") && s.Value > 0);
            Assert.Contains(samples, s => s.Name == "actorvmm_virtio_requests_total" && s.Labels.Contains($"vm=\"{id}\"") && s.Labels.Contains("device=\"disk0\"") && s.Value > 0);
        }

        Assert.Contains(samples, s => s.Name == "actorvmm_device_restarts_total" && s.Labels.Contains("vm=\"vm2\"") && s.Labels.Contains("device=\"disk0\"") && s.Value >= 2);
        Assert.Contains(samples, s => s.Name == "actorvmm_device_restarts_total" && s.Labels.Contains("vm=\"vm3\"") && s.Labels.Contains("device=\"disk0\"") && s.Value == 0);

        // A graceful stop presses the ACPI power button: the guest's button driver and acpid power the machine off
        // (S5); a kill stops it from the host.
        var stopped = await Expect(HttpStatusCode.OK, await _http.PostAsync("vms/vm4/stop?timeout=120", null, ct));
        Assert.Equal("stopped", stopped.GetProperty("state").GetString());
        Assert.Equal("poweroff", stopped.GetProperty("exit").GetProperty("reason").GetString());
        Assert.Equal(0, stopped.GetProperty("exit").GetProperty("code").GetInt32());
        var killed = await Expect(HttpStatusCode.OK, await _http.PostAsync("vms/vm3/kill", null, ct));
        Assert.Equal("host-request", killed.GetProperty("exit").GetProperty("reason").GetString());
        await Expect(HttpStatusCode.Conflict, await _http.PostAsync("vms/vm3/start", null, ct));
        Assert.True(await TickAsync("vm1") > 0 && (await GetAsync("vms/vm1")).GetProperty("state").GetString() == "running");

        // Deleting every VM leaves no VMM thread and no fd behind.
        await Task.WhenAll(ids.Select(async id => await Expect(HttpStatusCode.NoContent, await _http.DeleteAsync($"vms/{id}", ct))));
        Assert.Equal("[]", (await GetAsync("vms")).ToString());
        Assert.True(await ProcessCounts.EventuallyAsync(() => ProcessCounts.VmmThreads(pid).Count == 0, TimeSpan.FromSeconds(10)),
            "VMM threads left in the server: " + string.Join(", ", ProcessCounts.VmmThreads(pid)));
        Assert.True(await ProcessCounts.EventuallyAsync(() => ProcessCounts.NonSocketFds(pid) <= fdsBefore, TimeSpan.FromSeconds(10)),
            $"server fds (sockets aside): {fdsBefore} before the VMs, {ProcessCounts.NonSocketFds(pid)} after deleting them");

        // SIGTERM: the server stops cleanly and removes its socket.
        using (var kill = Process.Start("kill", ["-TERM", pid.ToString(CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync(ct);
        }

        await _server.WaitForExitAsync(ct).WaitAsync(TimeSpan.FromSeconds(60), ct);
        Assert.True(_server.ExitCode == 0, $"serve exited {_server.ExitCode}: {ServerLog}");
        Assert.False(File.Exists(_socket), "the socket file should be removed");
    }

    private string Body()
    {
        var image = TestImage.Create(1 << 20, "SERVE");
        _images.Add(image);
        return $$"""{"cpus":1,"memory":"128M","disks":[{"path":"{{image.Path}}"}],"cmdline":"{{GuestRun.BaseCmdline}} actorvmm.script=ticker"}""";
    }

    private static StringContent Json(string json) => ServedProcess.Json(json);

    private async Task<JsonElement> Expect(HttpStatusCode status, HttpResponseMessage response)
    {
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == status, $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri}: {(int)response.StatusCode} {body}; server: {ServerLog}");
            return body.Length == 0 ? default : JsonDocument.Parse(body).RootElement.Clone();
        }
    }

    private async Task<JsonElement> GetAsync(string path) => await Expect(HttpStatusCode.OK, await _http.GetAsync(path));

    private static JsonElement Disk(JsonElement devices) =>
        devices.EnumerateArray().Single(d => d.GetProperty("name").GetString() == "disk0");

    private async Task<string> ConsoleAsync(string id) => await _http.GetStringAsync($"vms/{id}/console?tail=8192");

    private async Task<int> TickAsync(string id)
    {
        var last = 0;
        foreach (Match m in TickLine().Matches(await ConsoleAsync(id)))
        {
            last = Math.Max(last, int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
        }

        return last;
    }


    internal sealed record Sample(string Name, string Labels, double Value);

    /// <summary>Prometheus text format: <c># HELP</c>/<c># TYPE</c> comments and <c>name{labels} value</c> lines; anything else fails.</summary>
    internal static List<Sample> ParseMetrics(string text)
    {
        var samples = new List<Sample>();
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var match = SampleLine().Match(line);
            Assert.True(match.Success, $"not a Prometheus sample line: {line}");
            samples.Add(new Sample(match.Groups[1].Value, match.Groups[2].Value, double.Parse(match.Groups[3].Value, CultureInfo.InvariantCulture)));
        }

        return samples;
    }

    [GeneratedRegex(@"^tick (\d+)\r?$", RegexOptions.Multiline)]
    private static partial Regex TickLine();

    [GeneratedRegex(@"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? ([-+0-9.eE]+|NaN|[+-]Inf)$")]
    private static partial Regex SampleLine();
}
