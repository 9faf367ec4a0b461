using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using ActorVmm.Vmm.Tests.Support;

namespace ActorVmm.Vmm.Tests.Net;

/// <summary>
/// Guest ↔ host over a TAP, in a network namespace the test creates (so nothing of the host's own network changes):
/// the TAP is made there and given 10.9.0.1/24, <c>actorvmm run --net tap=NAME</c> runs in the namespace, the guest
/// pings the host side and sends 8 MiB over TCP to a listener on the host side, whose md5 the test computes itself.
/// Needs root (CAP_NET_ADMIN) for <c>ip netns</c> and <c>ip tuntap</c>, as CI and the nested runner have.
/// </summary>
[Trait("Category", "Kvm")]
public sealed partial class TapNetnsTests : IAsyncLifetime
{
    private readonly string _ns = $"avm{Environment.ProcessId % 100000}";
    private readonly string _tap = $"avtap{Environment.ProcessId % 100000}";
    private readonly string _work = Path.Combine(Checkout.Root(), "artifacts", "test-images", $"tap-{Guid.NewGuid():N}");

    public async ValueTask InitializeAsync()
    {
        Directory.CreateDirectory(_work);
        await Ip("netns", "add", _ns);
        await Ip("netns", "exec", _ns, "ip", "link", "set", "lo", "up");
        await Ip("netns", "exec", _ns, "ip", "tuntap", "add", "dev", _tap, "mode", "tap");
        await Ip("netns", "exec", _ns, "ip", "addr", "add", "10.9.0.1/24", "dev", _tap);
        await Ip("netns", "exec", _ns, "ip", "link", "set", _tap, "up");
    }

    public async ValueTask DisposeAsync()
    {
        await Run("ip", "netns", "del", _ns);
        try
        {
            Directory.Delete(_work, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task Guest_should_ping_the_host_and_send_8_MiB_over_tcp_through_a_tap()
    {
        var received = Path.Combine(_work, "received.bin");
        var listener = Start("ip", "netns", "exec", _ns, "sh", "-c", $"busybox nc -l -p 5001 > {received} < /dev/null");
        try
        {
            var cmdline = $"{GuestRun.BaseCmdline} actorvmm.script=nettcp actorvmm.ip=10.9.0.2/24 actorvmm.role=client actorvmm.peer=10.9.0.1 actorvmm.mib=8";
            var vm = await Run("ip", "netns", "exec", _ns, ServedProcess.Executable, "run", "--memory", "256M",
                "--net", $"tap={_tap},mac=52:54:00:09:00:02", "--cmdline", cmdline, "--serial", "stdio", "--log-level", "warning");
            var sent = SentLine().Match(vm.Output);
            Assert.True(sent.Success, "the guest sent nothing: " + vm.Output[Math.Max(0, vm.Output.Length - 4000)..]);
            await listener.WaitForExitAsync(TestContext.Current.CancellationToken);
            var bytes = await File.ReadAllBytesAsync(received, TestContext.Current.CancellationToken);
            Assert.Equal(8 << 20, bytes.Length);
            Assert.Equal(sent.Groups[1].Value, Convert.ToHexStringLower(MD5.HashData(bytes)));
        }
        finally
        {
            if (!listener.HasExited)
            {
                listener.Kill(entireProcessTree: true);
            }
        }

        // The host side sees the guest's MAC in its neighbour table, and the guest's pings are answered.
        var neighbours = await Run("ip", "netns", "exec", _ns, "ip", "neigh", "show", "dev", _tap);
        Assert.Contains("52:54:00:09:00:02", neighbours.Output, StringComparison.Ordinal);
        var pingCmdline = $"{GuestRun.BaseCmdline} actorvmm.script=netping actorvmm.ip=10.9.0.2/24 actorvmm.peer=10.9.0.1 actorvmm.count=10";
        var ping = await Run("ip", "netns", "exec", _ns, ServedProcess.Executable, "run", "--memory", "256M",
            "--net", $"tap={_tap}", "--cmdline", pingCmdline, "--serial", "stdio", "--log-level", "warning");
        var summary = PingLine().Match(ping.Output);
        Assert.True(summary.Success, ping.Output);
        Assert.Equal("10", summary.Groups[1].Value);
        Assert.True(int.Parse(summary.Groups[2].Value, CultureInfo.InvariantCulture) >= 9, summary.Value);
    }

    [Fact]
    public async Task A_tap_that_does_not_exist_should_be_one_line_naming_it_and_exit_non_zero()
    {
        var run = await Run("ip", "netns", "exec", _ns, ServedProcess.Executable, "run", "--net", "tap=avmmissing0");

        Assert.NotEqual(0, run.ExitCode);
        var lines = run.Errors.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.Contains("avmmissing0", lines[0], StringComparison.Ordinal);
        Assert.Contains("ip tuntap add", lines[0], StringComparison.Ordinal);
    }

    private static Process Start(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { UseShellExecute = false };
        args.ToList().ForEach(psi.ArgumentList.Add);
        return Process.Start(psi)!;
    }

    private static async Task Ip(params string[] args)
    {
        var result = await Run("ip", args);
        Assert.True(result.ExitCode == 0, $"ip {string.Join(' ', args)}: {result.Errors}");
    }

    private static async Task<(int ExitCode, string Output, string Errors)> Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        args.ToList().ForEach(psi.ArgumentList.Add);
        using var process = Process.Start(psi)!;
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(GuestRun.Deadline);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not end: {await output}");
        }

        return (process.ExitCode, await output, await errors);
    }

    [GeneratedRegex(@"nettcp: sent bytes=\d+ md5=([0-9a-f]{32})")]
    private static partial Regex SentLine();

    [GeneratedRegex(@"netping: ping peer=\S+ sent=(\d+) received=(\d+)")]
    private static partial Regex PingLine();
}
