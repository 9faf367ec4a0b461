using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace ActorVmm.Bench;

/// <summary>
/// Network throughput and latency, ActorVmm beside QEMU in the same run (rounds interleaved: ActorVmm TAP, QEMU TAP,
/// ActorVmm switch, QEMU bridge, ...). Every guest boots the default guest (artifacts/guest, which carries iperf3)
/// and runs the netbench script (tools/guest/tests/netbench.sh): a ping series, then
/// iperf3 TCP with the guest sending, then receiving (-R).
/// <list type="bullet">
/// <item>TAP: one VM on a TAP device the bench made (host side 10.0.X.1/24, an iperf3 server bound there), ActorVmm
/// with <c>--net tap=NAME</c>, QEMU with <c>-netdev tap,vhost=off -device virtio-net-pci</c>: guest→host and
/// host→guest Gbit/s, ping RTT, and the VMM process's CPU time per GB moved.</item>
/// <item>Switch: two VMs in one <c>actorvmm serve</c> process on its in-process switch (API nets
/// <c>[{"switch":"bench0","mac":…}]</c>), one an iperf3 server, the other running netbench against it, with the serve
/// process's CPU time per GB. QEMU has no equivalent; its nearest analogue, two QEMUs on a Linux bridge of two TAPs
/// (CPU time: both processes), is printed as a reference.</item>
/// </list>
/// CPU time is utime + stime from /proc/PID/stat between the guest's "iperf start" and summary lines; a vCPU's guest
/// time counts as user time, so it is the whole cost of the VM process(es), guest included. Needs /dev/kvm and root
/// (TAP devices): run it through tools/nested/run-in-kvm.sh where there is none (tools/bench/net.sh does).
/// </summary>
internal static class NetBench
{
    private const string BaseCmdline = "console=ttyS0 reboot=k panic=-1 i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd no_timer_check tsc=reliable quiet";
    private const int IperfPort = 5201;
    private const string SwitchName = "bench0";

    /// <summary>The iperf server script's line once it listens: the netbench VM starts after it (one boot at a time).</summary>
    private const string ServerUp = "iperf: server listening";

    private enum Setup
    {
        Tap,
        Switch,
    }

    private sealed record Options(
        string Actorvmm, string Kernel, string Initrd, int Seconds, int Rounds, int Pings, int MemoryMiB, bool Ours, bool Peer, bool Switch, bool Bridge);

    /// <summary>One side of one setup (say "TAP ActorVmm"); its rounds' results, null for a round that failed.</summary>
    private sealed record Series(Setup Setup, string Vmm, string Label, List<NetbenchWatcher?> Runs);

    public static int Run(string[] args)
    {
        var repo = BootBench.FindRepo();
        var o = new Options(
            Path.Combine(repo, "artifacts/actorvmm/actorvmm"), Path.Combine(repo, "artifacts/guest/bzImage"),
            Path.Combine(repo, "artifacts/guest/initramfs.cpio.gz"), 10, 3, 20, 256, true, true, true, true);
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--no-peer": o = o with { Peer = false }; break;
                case "--peer-only": o = o with { Ours = false }; break;
                case "--no-switch": o = o with { Switch = false, Bridge = false }; break;
                case "--no-bridge": o = o with { Bridge = false }; break;
                case "--seconds" when i + 1 < args.Length: o = o with { Seconds = Positive(args[++i]) }; break;
                case "--rounds" when i + 1 < args.Length: o = o with { Rounds = Positive(args[++i]) }; break;
                case "--pings" when i + 1 < args.Length: o = o with { Pings = Positive(args[++i]) }; break;
                case "--memory" when i + 1 < args.Length: o = o with { MemoryMiB = Positive(args[++i]) }; break;
                case "--actorvmm" when i + 1 < args.Length: o = o with { Actorvmm = args[++i] }; break;
                case "--initrd" when i + 1 < args.Length: o = o with { Initrd = args[++i] }; break;
                default:
                    Console.Error.WriteLine($"net: unknown or incomplete option {args[i]}");
                    return 2;
            }
        }

        if (o.Rounds <= 0 || o.Seconds <= 0 || o.Pings <= 0 || o.MemoryMiB <= 0)
        {
            Console.Error.WriteLine("net: --seconds, --rounds, --pings and --memory take a positive whole number");
            return 2;
        }

        if (!o.Ours && !o.Peer)
        {
            Console.Error.WriteLine("net: --no-peer and --peer-only leave nothing to run");
            return 2;
        }

        if (o.Ours && !File.Exists(o.Actorvmm))
        {
            Console.Error.WriteLine($"net: no actorvmm at {o.Actorvmm} (tools/setup.sh publishes it; or pass --actorvmm PATH)");
            return 2;
        }

        foreach (var file in new[] { o.Kernel, o.Initrd })
        {
            if (!File.Exists(file))
            {
                Console.Error.WriteLine($"net: {file} is missing: run tools/guest/build-guest.sh artifacts/guest");
                return 2;
            }
        }

        if (NetHost.Missing() is { } missing)
        {
            Console.Error.WriteLine($"net: {missing}");
            return 2;
        }

        var series = new List<Series>();
        if (o.Ours)
        {
            series.Add(new Series(Setup.Tap, "ActorVmm", "TAP ActorVmm", []));
        }

        if (o.Peer)
        {
            series.Add(new Series(Setup.Tap, "QEMU", "TAP QEMU", []));
        }

        if (o.Ours && o.Switch)
        {
            series.Add(new Series(Setup.Switch, "ActorVmm", "VM-VM ActorVmm switch", []));
        }

        if (o.Peer && o.Bridge)
        {
            series.Add(new Series(Setup.Switch, "QEMU", "VM-VM QEMU bridge", []));
        }

        Console.WriteLine($"net benchmark: iperf3 TCP {o.Seconds} s per direction, ping x{o.Pings}, {o.Rounds} rounds interleaved ({string.Join(", ", series.Select(s => s.Label))}); guests 1 vCPU {o.MemoryMiB} MiB, initrd {o.Initrd}; actorvmm {(o.Ours ? o.Actorvmm : "-")}; QEMU -netdev tap,vhost=off -device virtio-net-pci");
        Console.WriteLine("net benchmark: CPU = the VM process(es)' utime+stime during the test (guest time included) per GB the sender sent");
        for (var round = 1; round <= o.Rounds; round++)
        {
            foreach (var s in series)
            {
                NetbenchWatcher? run = null;
                try
                {
                    run = (s.Setup, s.Vmm) switch
                    {
                        (Setup.Tap, "ActorVmm") => RunTap(o, s.Vmm, "avbtapa", "10.0.41"),
                        (Setup.Tap, _) => RunTap(o, s.Vmm, "avbtapq", "10.0.42"),
                        (Setup.Switch, "ActorVmm") => RunSwitchAsync(o).GetAwaiter().GetResult(),
                        _ => RunBridge(o),
                    };
                }
                catch (Exception e) when (e is InvalidOperationException or IOException or TimeoutException or HttpRequestException)
                {
                    Console.WriteLine($"round {round} {s.Label}: FAILED: {e.Message}");
                }

                s.Runs.Add(run);
                if (run is not null)
                {
                    Console.WriteLine($"round {round} {s.Label,-22} {Describe(s.Setup, run)}");
                }
            }
        }

        Summary(series);
        return series.All(s => s.Runs.All(r => r is not null)) ? 0 : 1;
    }

    private static int Positive(string text) =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : -1;

    private static string GuestCmdline(Options o, string script, string ip, string extra) =>
        $"{BaseCmdline} actorvmm.script={script} actorvmm.ip={ip}/24 actorvmm.wait=120 {extra}";

    private static string ClientCmdline(Options o, string ip, string peer) =>
        GuestCmdline(o, "netbench", ip, $"actorvmm.peer={peer} actorvmm.seconds={o.Seconds} actorvmm.count={o.Pings} actorvmm.port={IperfPort}");

    /// <summary>The netbench guest's partner in the VM-VM setups: an iperf3 server for the two tests.</summary>
    private static string ServerCmdline(Options o, string ip) =>
        GuestCmdline(o, "iperf", ip, $"actorvmm.role=server actorvmm.tests=2 actorvmm.port={IperfPort}");

    private static TimeSpan RunTimeout(Options o) => TimeSpan.FromMinutes(6) + TimeSpan.FromSeconds(4 * o.Seconds);

    private static string[] QemuArgs(Options o, string cmdline, string tap, string mac) =>
    [
        "-enable-kvm", "-M", "pc", "-cpu", "host", "-m", $"{o.MemoryMiB}", "-smp", "1", "-nographic", "-no-reboot", "-nodefaults",
        "-serial", "stdio", "-monitor", "none", "-kernel", o.Kernel, "-initrd", o.Initrd, "-append", cmdline,
        "-netdev", $"tap,id=n0,ifname={tap},script=no,downscript=no,vhost=off",
        // romfile= : no option ROM (Debian's ipxe ROMs need not be installed; a direct kernel boot never uses it).
        "-device", $"virtio-net-pci,netdev=n0,mac={mac},romfile=",
    ];

    private static string[] ActorVmmRunArgs(Options o, string cmdline, string net) =>
    [
        "run", "--cpus", "1", "--memory", $"{o.MemoryMiB}M", "--kernel", o.Kernel, "--initrd", o.Initrd, "--cmdline", cmdline,
        "--serial", "stdio", "--net", net,
    ];

    /// <summary>One VM on a fresh TAP device (host side PREFIX.1, guest PREFIX.2) with an iperf3 server on the host side.</summary>
    private static NetbenchWatcher RunTap(Options o, string vmm, string tap, string prefix)
    {
        using var host = new NetHost();
        host.AddTap(tap, $"{prefix}.1/24");
        host.StartIperfServer($"{prefix}.1", IperfPort);
        var cmdline = ClientCmdline(o, $"{prefix}.2", $"{prefix}.1");
        const string mac = "52:54:00:ab:00:02";
        if (vmm == "ActorVmm")
        {
            var (file, prefixArgs) = BootBench.Launcher(o.Actorvmm);
            return RunGuests(o, [(file, [.. prefixArgs, .. ActorVmmRunArgs(o, cmdline, $"tap={tap},mac={mac}")])]);
        }

        return RunGuests(o, [("qemu-system-x86_64", QemuArgs(o, cmdline, tap, mac))]);
    }

    /// <summary>QEMU's VM-VM reference: two QEMUs on two TAPs in one Linux bridge (no address on the host).</summary>
    private static NetbenchWatcher RunBridge(Options o)
    {
        using var host = new NetHost();
        host.AddTap("avbq1");
        host.AddTap("avbq2");
        host.AddBridge("avbbr0", "avbq1", "avbq2");
        return RunGuests(o,
        [
            ("qemu-system-x86_64", QemuArgs(o, ServerCmdline(o, "10.0.44.1"), "avbq1", "52:54:00:ab:44:01")),
            ("qemu-system-x86_64", QemuArgs(o, ClientCmdline(o, "10.0.44.2", "10.0.44.1"), "avbq2", "52:54:00:ab:44:02")),
        ]);
    }

    /// <summary>
    /// Starts each VM process in order (the last one runs netbench; the CPU time sampled is all of theirs; each earlier
    /// one is started once the one before said it is up), waits for netbench's done line, then ends them all.
    /// </summary>
    private static NetbenchWatcher RunGuests(Options o, (string File, string[] Args)[] vms)
    {
        var processes = new List<Process>();
        var others = new NetbenchWatcher(() => [], ServerUp);
        var watcher = new NetbenchWatcher(() => [.. processes.Select(p => p.Id)]);
        try
        {
            for (var i = 0; i < vms.Length; i++)
            {
                if (i > 0 && !others.WaitReady(RunTimeout(o)))
                {
                    throw new TimeoutException($"the server VM did not say '{ServerUp}'; last output: {others.LastOutput()}");
                }

                var lines = i == vms.Length - 1 ? watcher : others;
                var psi = new ProcessStartInfo(vms[i].File) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
                foreach (var a in vms[i].Args)
                {
                    psi.ArgumentList.Add(a);
                }

                var process = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {vms[i].File}");
                processes.Add(process);
                process.OutputDataReceived += (_, e) =>
                {
                    if (e.Data is null)
                    {
                        lines.Ended();
                    }
                    else
                    {
                        lines.OnLine(e.Data);
                    }
                };
                process.ErrorDataReceived += (_, e) => lines.OnLine(e.Data);
                process.BeginOutputReadLine();
                process.BeginErrorReadLine();
            }

            if (!watcher.WaitDone(RunTimeout(o), out var rc))
            {
                throw new TimeoutException($"netbench did not finish in {RunTimeout(o).TotalMinutes:F0} min; last output: {watcher.LastOutput()}");
            }

            if (rc != 0)
            {
                throw new InvalidOperationException($"netbench ended rc={rc}; last output: {watcher.LastOutput()}; the other VM: {others.LastOutput()}");
            }

            return watcher;
        }
        finally
        {
            foreach (var p in processes)
            {
                // The guests reset after their scripts and the VMMs exit by themselves; one that did not is killed.
                if (!p.WaitForExit(TimeSpan.FromSeconds(30)))
                {
                    p.Kill(entireProcessTree: true);
                    p.WaitForExit();
                }

                p.Dispose();
            }
        }
    }

    /// <summary>Two VMs in one <c>actorvmm serve</c> on its switch: a (10.0.43.1) an iperf3 server, b (10.0.43.2) netbench.</summary>
    private static async Task<NetbenchWatcher> RunSwitchAsync(Options o)
    {
        var socket = Path.Combine(Path.GetTempPath(), $"actorvmm-net-bench-{Environment.ProcessId}.sock");
        File.Delete(socket);
        var (file, prefix) = BootBench.Launcher(o.Actorvmm);
        var psi = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in (string[])[.. prefix, "serve", "--api-sock", socket])
        {
            psi.ArgumentList.Add(a);
        }

        using var server = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        var serveLines = new NetbenchWatcher(() => []);
        server.ErrorDataReceived += (_, e) => serveLines.OnLine(e.Data);
        server.OutputDataReceived += (_, e) => serveLines.OnLine(e.Data);
        server.BeginErrorReadLine();
        server.BeginOutputReadLine();
        var serverId = server.Id;
        var watcher = new NetbenchWatcher(() => [serverId]);
        var partner = new NetbenchWatcher(() => [], ServerUp);
        using var cancel = new CancellationTokenSource();
        try
        {
            var wait = Stopwatch.StartNew();
            while (!File.Exists(socket))
            {
                if (server.HasExited || wait.Elapsed > TimeSpan.FromMinutes(1))
                {
                    throw new InvalidOperationException($"actorvmm serve made no socket at {socket}; its output: {serveLines.LastOutput()}");
                }

                await Task.Delay(20);
            }

            using var http = ActorVmm.Host.Api.UnixSocketHttp.CreateClient(socket, TimeSpan.FromMinutes(5));
            await PutVmAsync(http, "a", o, ServerCmdline(o, "10.0.43.1"), "52:54:00:ab:43:01");
            await PutVmAsync(http, "b", o, ClientCmdline(o, "10.0.43.2", "10.0.43.1"), "52:54:00:ab:43:02");
            var consoleA = await FollowAsync(http, "a", partner, cancel.Token);
            if (!partner.WaitReady(RunTimeout(o)))
            {
                throw new TimeoutException($"VM a did not say '{ServerUp}'; last output: {partner.LastOutput()}; serve: {serveLines.LastOutput()}");
            }

            var consoles = new[] { consoleA, await FollowAsync(http, "b", watcher, cancel.Token) };
            if (!watcher.WaitDone(RunTimeout(o), out var rc))
            {
                throw new TimeoutException($"netbench in VM b did not finish in {RunTimeout(o).TotalMinutes:F0} min; last output: {watcher.LastOutput()}; VM a: {partner.LastOutput()}");
            }

            if (rc != 0)
            {
                throw new InvalidOperationException($"netbench in VM b ended rc={rc}; last output: {watcher.LastOutput()}; VM a: {partner.LastOutput()}; serve: {serveLines.LastOutput()}");
            }

            await cancel.CancelAsync();
            await Task.WhenAny(Task.WhenAll(consoles), Task.Delay(TimeSpan.FromSeconds(5)));
            foreach (var id in new[] { "a", "b" })
            {
                await http.DeleteAsync($"vms/{id}");
            }

            return watcher;
        }
        finally
        {
            await cancel.CancelAsync();
            using (var term = Process.Start("kill", ["-TERM", serverId.ToString(CultureInfo.InvariantCulture)]))
            {
                term.WaitForExit();
            }

            if (!server.WaitForExit(TimeSpan.FromSeconds(30)))
            {
                server.Kill(entireProcessTree: true);
            }
        }
    }

    private static async Task PutVmAsync(HttpClient http, string id, Options o, string cmdline, string mac)
    {
        var body = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["cpus"] = 1,
            ["memory"] = $"{o.MemoryMiB}M",
            ["kernel"] = o.Kernel,
            ["initrd"] = o.Initrd,
            ["cmdline"] = cmdline,
            ["nets"] = new[] { new Dictionary<string, string> { ["switch"] = SwitchName, ["mac"] = mac } },
        });
        using var response = await http.PutAsync($"vms/{id}", new StringContent(body, Encoding.UTF8, "application/json"));
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"PUT /vms/{id} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }
    }

    /// <summary>Follows VM <paramref name="id"/>'s console into <paramref name="lines"/>, then starts it; the task reads until the stream ends.</summary>
    private static async Task<Task> FollowAsync(HttpClient http, string id, NetbenchWatcher lines, CancellationToken cancel)
    {
        var stream = await http.GetStreamAsync($"vms/{id}/console?follow=true", cancel);
        var reading = Task.Run(async () =>
        {
            using var reader = new StreamReader(stream, Encoding.UTF8);
            try
            {
                while (await reader.ReadLineAsync(cancel) is { } line)
                {
                    lines.OnLine(line);
                }
            }
            catch (OperationCanceledException)
            {
            }
            catch (IOException)
            {
            }

            lines.Ended();
        }, CancellationToken.None);
        using var started = await http.PostAsync($"vms/{id}/start", null, cancel);
        if (!started.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"POST /vms/{id}/start answered {(int)started.StatusCode}: {await started.Content.ReadAsStringAsync(cancel)}");
        }

        return reading;
    }

    private static string Describe(Setup setup, NetbenchWatcher run)
    {
        var text = new StringBuilder();
        if (run.Ping is { } p)
        {
            text.Append(CultureInfo.InvariantCulture, $"ping avg {p.AvgMs:F3} ms (min {p.MinMs:F3} max {p.MaxMs:F3}, {p.Received}/{p.Sent})");
        }

        foreach (var t in run.Iperf)
        {
            text.Append(CultureInfo.InvariantCulture, $"; {DirectionName(setup, t.Direction)} {t.ReceiverMbps / 1000:F3} Gbit/s (CPU {t.CpuSecondsPerGB:F2} s/GB, {t.CpuSeconds:F2} s for {t.SenderBytes / 1e9:F2} GB, retr {t.Retr})");
        }

        return text.ToString();
    }

    private static string DirectionName(Setup setup, string direction) => (setup, direction) switch
    {
        (Setup.Tap, "send") => "guest->host",
        (Setup.Tap, _) => "host->guest",
        (_, "send") => "b->a",
        _ => "a->b",
    };

    private static void Summary(List<Series> series)
    {
        Console.WriteLine("net summary: medians over the rounds that completed (n); ratio = ActorVmm / QEMU (throughput: higher is better; ping and CPU/GB: lower is better); VM-VM: QEMU has no in-process switch, its bridge of two TAPs is a reference");
        foreach (var setup in new[] { Setup.Tap, Setup.Switch })
        {
            var ours = series.FirstOrDefault(s => s.Setup == setup && s.Vmm == "ActorVmm");
            var peer = series.FirstOrDefault(s => s.Setup == setup && s.Vmm == "QEMU");
            if (ours is null && peer is null)
            {
                continue;
            }

            var rows = new List<(string Name, Func<NetbenchWatcher, double?> Value, string Unit, string Format)>
            {
                ("ping avg", r => r.Ping?.AvgMs, "ms", "F3"),
            };
            foreach (var dir in new[] { "send", "recv" })
            {
                rows.Add(($"{DirectionName(setup, dir)}", r => r.Iperf.FirstOrDefault(t => t.Direction == dir)?.ReceiverMbps / 1000, "Gbit/s", "F3"));
                rows.Add(($"{DirectionName(setup, dir)} CPU", r => r.Iperf.FirstOrDefault(t => t.Direction == dir)?.CpuSecondsPerGB, "s/GB", "F2"));
            }

            var peerName = setup == Setup.Tap ? "QEMU" : "QEMU bridge";
            foreach (var (name, value, unit, format) in rows)
            {
                var a = Median(ours, value);
                var b = Median(peer, value);
                var ratio = a is { } x && b is { } y && y > 0 ? (x / y).ToString("F2", CultureInfo.InvariantCulture) : "-";
                Console.WriteLine($"  {(setup == Setup.Tap ? "TAP" : "VM-VM"),-6} {name,-16} ActorVmm {Show(a, format),8} {unit,-6} (n={Count(ours)})   {peerName,-11} {Show(b, format),8} {unit,-6} (n={Count(peer)})   ratio {ratio}");
            }
        }
    }

    private static int Count(Series? s) => s?.Runs.Count(r => r is not null) ?? 0;

    private static double? Median(Series? s, Func<NetbenchWatcher, double?> value)
    {
        if (s is null)
        {
            return null;
        }

        var values = s.Runs.Where(r => r is not null).Select(r => value(r!)).Where(v => v is { } d && !double.IsNaN(d)).Select(v => v!.Value).ToList();
        return values.Count == 0 ? null : TracingModes.Median(values);
    }

    private static string Show(double? value, string format) => value is { } v ? v.ToString(format, CultureInfo.InvariantCulture) : "-";
}
