using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using ActorVmm.Vmm.Tests.Support;

namespace ActorVmm.Vmm.Tests.Net;

/// <summary>
/// VMs joined by the in-process switch, as a user does it: one <c>actorvmm serve</c> (the Native AOT executable),
/// VMs created through its API with <c>"nets": [{"switch": "lan0", ...}]</c>, no TAP and no privileges. Two guests
/// move 8 MiB over TCP (busybox nc) with the same md5 on both sides, captured to a pcap that tcpdump decodes; a
/// <c>drop,p=0.3</c> fault loses about 30% of one guest's pings; a partition stops them until it is removed.
/// </summary>
[Trait("Category", "Kvm")]
public sealed partial class SwitchProcessTests : IAsyncLifetime
{
    private readonly string _work = Path.Combine(Checkout.Root(), "artifacts", "test-images", $"net-{Guid.NewGuid():N}");
    private ServedProcess? _serve;

    public ValueTask InitializeAsync()
    {
        Directory.CreateDirectory(_work);
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        if (_serve is not null)
        {
            await _serve.DisposeAsync();
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
    public async Task Two_vms_on_a_switch_should_move_8_MiB_over_tcp_intact_and_capture_it_to_pcap()
    {
        var serve = await StartServeAsync();
        var pcap = Path.Combine(_work, "client.pcap");
        // A third VM stays on the switch: a switch lives while a NIC is on it, and the two below end with their scripts.
        await CreateAsync(serve, "witness", "52:54:00:00:01:03", "idle actorvmm.ip=10.0.0.3/24");
        await CreateAsync(serve, "server", "52:54:00:00:01:01", "nettcp actorvmm.ip=10.0.0.1/24 actorvmm.role=server");
        await CreateAsync(serve, "client", "52:54:00:00:01:02", "nettcp actorvmm.ip=10.0.0.2/24 actorvmm.role=client actorvmm.peer=10.0.0.1 actorvmm.mib=8", pcap: pcap);

        var received = await LineAsync(serve, "server", ReceivedLine());
        var sent = await LineAsync(serve, "client", SentLine());

        Assert.Equal(8L << 20, long.Parse(received.Groups[1].Value, CultureInfo.InvariantCulture));
        Assert.Equal(sent.Groups[1].Value, received.Groups[1].Value);
        Assert.Equal(sent.Groups[2].Value, received.Groups[2].Value);

        // The switch's counters and the NIC's: frames went through, none dropped for lack of room.
        var stats = await serve.ExpectAsync(HttpStatusCode.OK, await serve.Http.GetAsync("vms/client/stats", Ct));
        var nic = stats.GetProperty("nets").EnumerateArray().Single();
        Assert.Equal("net0", nic.GetProperty("name").GetString());
        Assert.True(nic.GetProperty("tx-bytes").GetInt64() > 8L << 20, nic.ToString());

        var lan = (await serve.ExpectAsync(HttpStatusCode.OK, await serve.Http.GetAsync("switches", Ct))).EnumerateArray().Single();
        Assert.Equal("lan0", lan.GetProperty("name").GetString());
        Assert.InRange(lan.GetProperty("ports").GetInt32(), 1, 3);
        Assert.True(lan.GetProperty("forwarded").GetInt64() > 1000, lan.ToString());

        // tcpdump reads the capture: the client's MAC, ARP, and TCP to port 5001.
        await serve.ExpectAsync(HttpStatusCode.NoContent, await serve.Http.DeleteAsync("vms/client", Ct));
        var dump = await RunAsync("tcpdump", "-r", pcap, "-nn", "-e", "-c", "2000");
        Assert.Contains("52:54:00:00:01:02 > ", dump, StringComparison.Ordinal);
        Assert.Contains("ARP", dump, StringComparison.Ordinal);
        Assert.Contains("10.0.0.2.", dump, StringComparison.Ordinal);
        Assert.Contains("10.0.0.1.5001", dump, StringComparison.Ordinal);
        TestContext.Current.SendDiagnosticMessage($"switch TCP: {sent.Value.Trim()}");
    }

    [Fact]
    public async Task A_drop_fault_should_lose_about_its_share_of_frames_and_a_partition_should_stop_traffic_until_removed()
    {
        var serve = await StartServeAsync();
        await CreateAsync(serve, "target", "52:54:00:00:02:01", "idle actorvmm.ip=10.0.1.1/24");

        // 1. drop,p=0.3 on the pinger's port (its egress): about 30% of 100 echo requests are lost. The bound is
        // four standard deviations of a binomial(100, 0.3) either side.
        await CreateAsync(serve, "lossy", "52:54:00:00:02:02", "netwatch actorvmm.ip=10.0.1.2/24 actorvmm.peer=10.0.1.1 actorvmm.count=100",
            faults: """["net0:drop,p=0.3,seed=11"]""");
        var summary = await LineAsync(serve, "lossy", SummaryLine());
        var sentCount = int.Parse(summary.Groups[1].Value, CultureInfo.InvariantCulture);
        var receivedCount = int.Parse(summary.Groups[2].Value, CultureInfo.InvariantCulture);
        var loss = 1.0 - ((double)receivedCount / sentCount);
        Assert.Equal(100, sentCount);
        Assert.InRange(loss, 0.3 - (4 * Math.Sqrt(0.3 * 0.7 / 100)), 0.3 + (4 * Math.Sqrt(0.3 * 0.7 / 100)));
        var faults = await serve.ExpectAsync(HttpStatusCode.OK, await serve.Http.GetAsync("vms/lossy/faults", Ct));
        var fired = faults.EnumerateArray().Single().GetProperty("fired").GetInt64();
        Assert.True(fired >= sentCount - receivedCount, $"{fired} drops counted for {sentCount - receivedCount} lost pings: {faults}");

        // 2. A partition of the target's port stops the replies; removing it lets them through again.
        await CreateAsync(serve, "pinger", "52:54:00:00:02:03", "netwatch actorvmm.ip=10.0.1.3/24 actorvmm.peer=10.0.1.1 actorvmm.count=1000");
        Assert.True(await ProcessCounts.EventuallyAsync(async () => Replies(await serve.ConsoleAsync("pinger")).Count >= 5, GuestRun.Deadline),
            "no replies before the partition: " + await serve.ConsoleAsync("pinger"));
        var partition = await serve.ExpectAsync(HttpStatusCode.Created,
            await serve.Http.PostAsync("vms/target/faults", Json("""{"spec":"net0:partition"}"""), Ct));
        var atPartition = Replies(await serve.ConsoleAsync("pinger")).Max();
        await Task.Delay(TimeSpan.FromSeconds(5), Ct);
        var during = Replies(await serve.ConsoleAsync("pinger"));
        Assert.True(during.Max() <= atPartition + 2, $"replies went on during the partition (last {during.Max()}, {atPartition} when it began)");
        await serve.ExpectAsync(HttpStatusCode.NoContent,
            await serve.Http.DeleteAsync($"vms/target/faults/{partition.GetProperty("id").GetString()}", Ct));
        var lastDuring = Replies(await serve.ConsoleAsync("pinger")).Max();
        Assert.True(await ProcessCounts.EventuallyAsync(async () => Replies(await serve.ConsoleAsync("pinger")).Max() > lastDuring + 3, GuestRun.Deadline),
            "no replies after the partition was removed: " + await serve.ConsoleAsync("pinger"));
        Assert.True(Replies(await serve.ConsoleAsync("pinger")).Max() > atPartition + 10, "the sequence numbers the partition swallowed are not skipped");
    }

    [Fact]
    public async Task A_mac_already_on_the_switch_or_a_bad_nic_should_be_refused_in_one_line_creating_nothing()
    {
        var serve = await StartServeAsync();
        await CreateAsync(serve, "first", "52:54:00:00:03:01", "idle actorvmm.ip=10.0.2.1/24", start: false);

        var twice = await serve.ExpectAsync(HttpStatusCode.BadRequest, await serve.Http.PutAsync("vms/second",
            Json("""{"memory":"128M","nets":[{"switch":"lan0","mac":"52:54:00:00:03:01"}]}"""), Ct));
        var bad = await serve.ExpectAsync(HttpStatusCode.BadRequest, await serve.Http.PutAsync("vms/third",
            Json("""{"memory":"128M","nets":[{"switch":"lan0","mac":"01:00:5e:00:00:01"}]}"""), Ct));
        var tap = await serve.ExpectAsync(HttpStatusCode.BadRequest, await serve.Http.PutAsync("vms/fourth",
            Json("""{"memory":"128M","nets":[{"tap":"avmnotap0"}]}"""), Ct));
        var fault = await serve.ExpectAsync(HttpStatusCode.BadRequest, await serve.Http.PostAsync("vms/first/faults",
            Json("""{"spec":"net0:rate"}"""), Ct));

        Assert.Contains("52:54:00:00:03:01 is already on switch lan0", twice.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Contains("not a unicast address", bad.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Contains("avmnotap0", tap.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Contains("ip tuntap add", tap.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty(fault.GetProperty("error").GetString()));
        foreach (var error in new[] { twice, bad, tap, fault })
        {
            Assert.DoesNotContain('\n', error.GetProperty("error").GetString()!);
        }

        foreach (var id in new[] { "second", "third", "fourth" })
        {
            await serve.ExpectAsync(HttpStatusCode.NotFound, await serve.Http.GetAsync($"vms/{id}", Ct));
        }

        // The refused VM left its MAC free: once "first" is gone, another VM may take it.
        await serve.ExpectAsync(HttpStatusCode.NoContent, await serve.Http.DeleteAsync("vms/first", Ct));
        await serve.ExpectAsync(HttpStatusCode.Created, await serve.Http.PutAsync("vms/fifth",
            Json("""{"memory":"128M","nets":[{"switch":"lan0","mac":"52:54:00:00:03:01"}]}"""), Ct));
    }

    private async Task<ServedProcess> StartServeAsync()
    {
        _serve = ServedProcess.Start("serve", "--api-sock", Path.Combine(Path.GetTempPath(), $"actorvmm-net-{Guid.NewGuid():N}.sock"));
        await _serve.WaitForSocketAsync();
        return _serve;
    }

    private static async Task CreateAsync(
        ServedProcess serve, string id, string mac, string script, string? pcap = null, string faults = "[]", bool start = true)
    {
        var nic = pcap is null
            ? $$"""{"switch":"lan0","mac":"{{mac}}"}"""
            : $$"""{"switch":"lan0","mac":"{{mac}}","pcap":"{{pcap}}"}""";
        var body = $$"""{"memory":"256M","nets":[{{nic}}],"faults":{{faults}},"cmdline":"{{GuestRun.BaseCmdline}} actorvmm.script={{script}}"}""";
        await serve.ExpectAsync(HttpStatusCode.Created, await serve.Http.PutAsync($"vms/{id}", Json(body), Ct));
        if (start)
        {
            await serve.ExpectAsync(HttpStatusCode.OK, await serve.Http.PostAsync($"vms/{id}/start", null, Ct));
        }
    }

    private static async Task<Match> LineAsync(ServedProcess serve, string id, Regex line)
    {
        Match? match = null;
        var seen = await ProcessCounts.EventuallyAsync(
            async () =>
            {
                var console = await serve.ConsoleAsync(id);
                match = line.Match(console);
                return match.Success || console.Contains(": FAIL", StringComparison.Ordinal);
            },
            GuestRun.Deadline);
        Assert.True(seen && match!.Success, $"{id} never printed /{line}/: {await serve.ConsoleAsync(id)}");
        return match!;
    }

    private static List<int> Replies(string console) =>
        [.. ReplyLine().Matches(console).Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).DefaultIfEmpty(-1)];

    private static async Task<string> RunAsync(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        args.ToList().ForEach(psi.ArgumentList.Add);
        using var process = Process.Start(psi)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"{file} exited {process.ExitCode}: {await errors}");
        return await output;
    }


    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static StringContent Json(string json) => ServedProcess.Json(json);

    [GeneratedRegex(@"nettcp: received bytes=(\d+) md5=([0-9a-f]{32})")]
    private static partial Regex ReceivedLine();

    [GeneratedRegex(@"nettcp: sent bytes=(\d+) md5=([0-9a-f]{32}).*")]
    private static partial Regex SentLine();

    [GeneratedRegex(@"netwatch: ping peer=\S+ sent=(\d+) received=(\d+)")]
    private static partial Regex SummaryLine();

    [GeneratedRegex(@"netwatch: reply seq=(\d+)")]
    private static partial Regex ReplyLine();
}
