using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace ActorVmm.Bench;

/// <summary>
/// Many VMs in one <c>actorvmm serve</c> process beside as many QEMU processes, in the same run: VMs booted per minute
/// (start request, or QEMU's process start, to the guest init's first line, N started at once), the VMM's resident
/// memory outside guest RAM (serve idle, with one VM, with 1 + N: per extra VM is the difference over N; QEMU per
/// process), and API latency p50/p99 of
/// <c>GET /vms/{id}</c> and of a pause→resume pair. Needs /dev/kvm: run it through tools/nested/run-in-kvm.sh.
/// </summary>
internal static class ServeBench
{
    private const string InitLine = "ActorVmm guest init: starting";
    private const string BaseCmdline = "console=ttyS0 reboot=k panic=-1 i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd no_timer_check tsc=reliable quiet";

    public static int Run(string[] args)
    {
        var vms = 4;
        var memoryMiB = 128;
        var apiRounds = 300;
        var peer = true;
        var script = "idle";
        var repo = BootBench.FindRepo();
        var kernel = Path.Combine(repo, "artifacts/guest/bzImage");
        var initrd = Path.Combine(repo, "artifacts/guest/initramfs.cpio.gz");
        var actorvmm = Path.Combine(repo, "artifacts/actorvmm/actorvmm");
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--no-peer": peer = false; break;
                case "--vms" when i + 1 < args.Length: vms = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--memory" when i + 1 < args.Length: memoryMiB = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--api-rounds" when i + 1 < args.Length: apiRounds = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--script" when i + 1 < args.Length: script = args[++i]; break;
                case "--actorvmm" when i + 1 < args.Length: actorvmm = args[++i]; break;
            }
        }

        var cmdline = $"{BaseCmdline} actorvmm.script={script}";
        Console.WriteLine($"serve benchmark: {vms} VMs of {memoryMiB} MiB, guest script {script}, actorvmm {actorvmm}, API rounds {apiRounds}");
        var serve = RunServeAsync(actorvmm, kernel, initrd, cmdline, vms, memoryMiB, apiRounds).GetAwaiter().GetResult();
        Report("ActorVmm serve", serve);
        if (peer)
        {
            Report($"QEMU x{vms}", RunQemu(kernel, initrd, cmdline, vms, memoryMiB));
        }

        return serve.Booted == vms ? 0 : 1;
    }

    private sealed record Result(int Booted, double BatchSeconds, double[] BootMs, double? IdleMiB, double? OneMiB, double? AllMiB, string Api)
    {
        /// <summary>Memory each further VM costs: serve's growth over the N it added; for separate processes, one process.</summary>
        public double? PerExtraMiB { get; init; }
    }

    private static void Report(string name, Result r)
    {
        var perMinute = r.BatchSeconds > 0 ? r.Booted / r.BatchSeconds * 60 : 0;
        var sorted = r.BootMs.Order().ToArray();
        var median = sorted.Length == 0 ? double.NaN : sorted[sorted.Length / 2];
        var perExtra = r.PerExtraMiB ?? (r.OneMiB is { } one && r.AllMiB is { } all && r.Booted > 0 ? (all - one) / r.Booted : null);
        Console.WriteLine(
            $"{name,-16} booted {r.Booted} in {r.BatchSeconds:F1} s ({perMinute:F1} VMs/min), boot median {median:F0} ms max {(sorted.Length == 0 ? double.NaN : sorted[^1]):F0} ms; " +
            $"VMM RSS excl. guest RAM: idle {Fmt(r.IdleMiB)}, 1 VM {Fmt(r.OneMiB)}, all {Fmt(r.AllMiB)} MiB, per extra VM {Fmt(perExtra)} MiB{r.Api}");
    }

    private static string Fmt(double? v) => v is null ? "-" : v.Value.ToString("F1", CultureInfo.InvariantCulture);

    private static async Task<Result> RunServeAsync(string actorvmm, string kernel, string initrd, string cmdline, int vms, int memoryMiB, int apiRounds)
    {
        var socket = Path.Combine(Path.GetTempPath(), $"actorvmm-bench-{Environment.ProcessId}.sock");
        File.Delete(socket);
        var (file, prefix) = BootBench.Launcher(actorvmm);
        var psi = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in (string[])[.. prefix, "serve", "--api-sock", socket])
        {
            psi.ArgumentList.Add(a);
        }

        using var server = Process.Start(psi)!;
        server.ErrorDataReceived += (_, _) => { };
        server.OutputDataReceived += (_, _) => { };
        server.BeginErrorReadLine();
        server.BeginOutputReadLine();
        var guestBytes = (ulong)memoryMiB << 20;
        try
        {
            var wait = Stopwatch.StartNew();
            while (!File.Exists(socket) && wait.Elapsed < TimeSpan.FromMinutes(1))
            {
                await Task.Delay(20);
            }

            using var http = ActorVmm.Host.Api.UnixSocketHttp.CreateClient(socket, TimeSpan.FromMinutes(5));
            await Task.Delay(500);
            var idle = BootBench.MemoryExcludingGuest(server.Id, guestBytes)?.RssMiB;
            var body = $$"""{"cpus":1,"memory":"{{memoryMiB}}M","kernel":"{{kernel}}","initrd":"{{initrd}}","cmdline":"{{cmdline}}"}""";

            var first = await BootAllAsync(http, ["vm1"], body);
            var one = BootBench.MemoryExcludingGuest(server.Id, guestBytes)?.RssMiB;
            // Then N more at once, as the QEMU peer starts its N processes at once.
            var rest = Enumerable.Range(2, vms).Select(i => $"vm{i}").ToArray();
            var batch = await BootAllAsync(http, rest, body);
            var all = BootBench.MemoryExcludingGuest(server.Id, guestBytes)?.RssMiB;

            var get = new List<double>();
            for (var i = 0; i < apiRounds; i++)
            {
                var t = Stopwatch.GetTimestamp();
                (await http.GetAsync("vms/vm1")).EnsureSuccessStatusCode();
                get.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
            }

            var pauseResume = new List<double>();
            for (var i = 0; i < Math.Max(10, apiRounds / 10); i++)
            {
                var t = Stopwatch.GetTimestamp();
                (await http.PostAsync("vms/vm1/pause", null)).EnsureSuccessStatusCode();
                (await http.PostAsync("vms/vm1/resume", null)).EnsureSuccessStatusCode();
                pauseResume.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
            }

            var api = $"; API GET /vms/vm1 p50 {Percentile(get, 50):F2} ms p99 {Percentile(get, 99):F2} ms, pause+resume p50 {Percentile(pauseResume, 50):F1} ms p99 {Percentile(pauseResume, 99):F1} ms";
            foreach (var id in new[] { "vm1" }.Concat(rest))
            {
                await http.DeleteAsync($"vms/{id}");
            }

            return new Result(batch.BootMs.Length, batch.Seconds, batch.BootMs, idle, one, all, api);
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

    private sealed record Batch(double Seconds, double[] BootMs);

    /// <summary>Creates and starts every VM at once; each one's time is start request → init line on its console stream.</summary>
    private static async Task<Batch> BootAllAsync(HttpClient http, string[] ids, string body)
    {
        foreach (var id in ids)
        {
            (await http.PutAsync($"vms/{id}", new StringContent(body, Encoding.UTF8, "application/json"))).EnsureSuccessStatusCode();
        }

        var clock = Stopwatch.StartNew();
        var boots = await Task.WhenAll(ids.Select(async id =>
        {
            var start = clock.Elapsed.TotalMilliseconds;
            using var stream = await http.GetStreamAsync($"vms/{id}/console?follow=true");
            (await http.PostAsync($"vms/{id}/start", null)).EnsureSuccessStatusCode();
            await ReadUntilAsync(stream, InitLine, TimeSpan.FromMinutes(5));
            return clock.Elapsed.TotalMilliseconds - start;
        }));
        return new Batch(clock.Elapsed.TotalSeconds, boots);
    }

    private static async Task ReadUntilAsync(Stream stream, string marker, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        var text = new StringBuilder();
        var buffer = new byte[4096];
        while (true)
        {
            var n = await stream.ReadAsync(buffer, cancel.Token);
            if (n == 0)
            {
                throw new InvalidOperationException($"console ended before '{marker}'");
            }

            text.Append(Encoding.UTF8.GetString(buffer, 0, n));
            if (text.ToString().Contains(marker, StringComparison.Ordinal))
            {
                return;
            }
        }
    }

    private static Result RunQemu(string kernel, string initrd, string cmdline, int vms, int memoryMiB)
    {
        var clock = Stopwatch.StartNew();
        var processes = new List<Process>();
        var boots = new double[vms];
        var memory = new double?[vms];
        var done = new CountdownEvent(vms);
        for (var i = 0; i < vms; i++)
        {
            var psi = new ProcessStartInfo("qemu-system-x86_64") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
            foreach (var a in (string[])["-enable-kvm", "-M", "pc", "-cpu", "host", "-m", $"{memoryMiB}", "-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio", "-monitor", "none", "-kernel", kernel, "-initrd", initrd, "-append", cmdline])
            {
                psi.ArgumentList.Add(a);
            }

            var index = i;
            var start = clock.Elapsed.TotalMilliseconds;
            var process = Process.Start(psi)!;
            var seen = 0;
            process.OutputDataReceived += (_, e) =>
            {
                if (e.Data?.Contains(InitLine, StringComparison.Ordinal) == true && Interlocked.Exchange(ref seen, 1) == 0)
                {
                    boots[index] = clock.Elapsed.TotalMilliseconds - start;
                    memory[index] = BootBench.MemoryExcludingGuest(process.Id, (ulong)memoryMiB << 20)?.RssMiB;
                    done.Signal();
                }
            };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            processes.Add(process);
        }

        var all = done.Wait(TimeSpan.FromMinutes(5));
        var seconds = clock.Elapsed.TotalSeconds;
        foreach (var p in processes)
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            p.Dispose();
        }

        var booted = boots.Count(b => b > 0);
        var perProcess = memory.Where(m => m is not null).Select(m => m!.Value).DefaultIfEmpty().Average();
        // Each QEMU is a process of its own: every VM costs a whole VMM (1 VM = the mean process, all = their sum).
        return new Result(booted, all ? seconds : double.NaN, boots.Where(b => b > 0).ToArray(), null, perProcess, perProcess * booted, string.Empty)
        {
            PerExtraMiB = perProcess,
        };
    }

    private static double Percentile(List<double> values, int p)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(sorted.Length * p / 100.0) - 1)];
    }
}
