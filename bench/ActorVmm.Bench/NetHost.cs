using System.Diagnostics;

namespace ActorVmm.Bench;

/// <summary>
/// The host side of <c>bench net</c>: TAP devices (with an address, or as bridge ports), Linux bridges, and iperf3
/// servers bound to a TAP's address, made with iproute2 and Debian's iperf3 (needs root: inside the nested runner the
/// command runs as root). Disposing stops the servers and deletes every link it made.
/// </summary>
internal sealed class NetHost : IDisposable
{
    private readonly List<string> _links = [];
    private readonly List<Process> _servers = [];

    /// <summary>A missing tool or device, as one line naming it; null when the host side can be built.</summary>
    public static string? Missing()
    {
        foreach (var (tool, package) in new[] { ("ip", "iproute2"), ("iperf3", "iperf3") })
        {
            if (!OnPath(tool))
            {
                return $"{tool} not found: apt-get install {package} (tools/setup.sh does)";
            }
        }

        return File.Exists("/dev/net/tun") ? null : "/dev/net/tun missing: load the tun module (the nested runner does)";
    }

    /// <summary>A fresh TAP device, up; with <paramref name="cidr"/> (10.0.X.1/24) it gets that address.</summary>
    public void AddTap(string name, string? cidr = null)
    {
        TryIp("link", "del", name);
        Ip("tuntap", "add", "dev", name, "mode", "tap");
        _links.Add(name);
        if (cidr is not null)
        {
            Ip("addr", "add", cidr, "dev", name);
        }

        Ip("link", "set", name, "up");
    }

    /// <summary>A fresh bridge, up, with the given (existing) links as its ports.</summary>
    public void AddBridge(string name, params string[] ports)
    {
        TryIp("link", "del", name);
        Ip("link", "add", "name", name, "type", "bridge");
        _links.Add(name);
        foreach (var port in ports)
        {
            Ip("link", "set", port, "master", name);
        }

        Ip("link", "set", name, "up");
    }

    /// <summary>
    /// An iperf3 server (<c>iperf3 -s</c>, any number of tests) bound to <paramref name="address"/>, once it listens
    /// (--forceflush: its stdout is a pipe, which iperf3 would otherwise buffer).
    /// </summary>
    public void StartIperfServer(string address, int port)
    {
        var psi = new ProcessStartInfo("iperf3") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-s", "-B", address, "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--forceflush" })
        {
            psi.ArgumentList.Add(a);
        }

        var server = Process.Start(psi) ?? throw new InvalidOperationException("cannot start iperf3");
        _servers.Add(server);
        var listening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var errors = new List<string>();
        server.OutputDataReceived += (_, e) =>
        {
            if (e.Data?.Contains("Server listening", StringComparison.Ordinal) == true)
            {
                listening.TrySetResult();
            }
        };
        server.ErrorDataReceived += (_, e) =>
        {
            if (!string.IsNullOrWhiteSpace(e.Data))
            {
                lock (errors)
                {
                    errors.Add(e.Data);
                }
            }
        };
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        if (!listening.Task.Wait(TimeSpan.FromSeconds(20)))
        {
            lock (errors)
            {
                throw new InvalidOperationException($"iperf3 -s -B {address} -p {port} did not listen: {string.Join(" | ", errors)}");
            }
        }
    }

    public void Dispose()
    {
        foreach (var server in _servers)
        {
            try
            {
                server.Kill();
                server.WaitForExit();
            }
            catch (InvalidOperationException)
            {
            }

            server.Dispose();
        }

        _links.Reverse();
        foreach (var link in _links)
        {
            TryIp("link", "del", link);
        }
    }

    private static void Ip(params string[] args)
    {
        var (code, output) = RunIp(args);
        if (code != 0)
        {
            throw new InvalidOperationException($"ip {string.Join(' ', args)} failed ({code}): {output} (the net benchmark needs root)");
        }
    }

    private static void TryIp(params string[] args) => RunIp(args);

    private static (int Code, string Output) RunIp(string[] args)
    {
        var psi = new ProcessStartInfo("ip") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var ip = Process.Start(psi) ?? throw new InvalidOperationException("cannot start ip");
        var stderr = ip.StandardError.ReadToEndAsync();
        var stdout = ip.StandardOutput.ReadToEnd();
        ip.WaitForExit();
        return (ip.ExitCode, (stdout + stderr.Result).Trim());
    }

    private static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin")
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Any(dir => File.Exists(Path.Combine(dir, tool)));
}
