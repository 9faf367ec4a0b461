using System.Diagnostics;
using System.Globalization;

namespace ActorVmm.Bench;

/// <summary>
/// Boot benchmark: the same kernel and initramfs under ActorVmm (<c>actorvmm run</c>) and Debian's QEMU
/// (<c>-enable-kvm -M pc -cpu host</c>) in the same run. Per VMM: wall time from process start to the guest
/// init's first line and to process exit, and the VMM's resident memory excluding guest RAM (sampled from
/// /proc/PID/smaps when the init line appears). For ActorVmm also the start-up time to the first KVM_RUN.
/// <c>--verbose</c> boots without <c>quiet</c>, so the kernel log crosses the serial console as it does under
/// <c>tools/run.sh</c> and the tests; <c>--actorvmm-b PATH</c> adds a second ActorVmm build (an A/B in one run);
/// <c>--acpi-off</c> adds ActorVmm booted with <c>acpi=off</c> (the MP-table boot). Every VMM's exits come from KVM's
/// own counters (debugfs), so ActorVmm and QEMU are counted alike: all exits, port I/O, MMIO, HLT, external interrupts.
/// Needs /dev/kvm: run it through tools/nested/run-in-kvm.sh where there is none.
/// </summary>
internal static class BootBench
{
    private const string InitLine = "ActorVmm guest init: starting";
    private const string BaseCmdline = "console=ttyS0 reboot=k panic=-1 i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd no_timer_check tsc=reliable";

    public static int Run(string[] args)
    {
        var runs = 3;
        var verbose = false;
        var acpiOff = false;
        string? actorvmmB = null;
        var memoryMiB = 256;
        var repo = FindRepo();
        var kernel = Path.Combine(repo, "artifacts/guest/bzImage");
        var initrd = Path.Combine(repo, "artifacts/guest/initramfs.cpio.gz");
        // The Native AOT build tools/setup.sh publishes (what tools/run.sh runs); the plain build otherwise.
        var actorvmm = Path.Combine(repo, "artifacts/actorvmm/actorvmm");
        if (!File.Exists(actorvmm))
        {
            actorvmm = Path.Combine(repo, "src/Host/bin/Release/net10.0/actorvmm.dll");
        }

        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--verbose")
            {
                verbose = true;
                continue;
            }

            if (args[i] == "--acpi-off")
            {
                acpiOff = true;
                continue;
            }

            if (i == args.Length - 1)
            {
                break;
            }

            switch (args[i])
            {
                case "--runs": runs = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--kernel": kernel = args[++i]; break;
                case "--initrd": initrd = args[++i]; break;
                case "--actorvmm": actorvmm = args[++i]; break;
                case "--actorvmm-b": actorvmmB = args[++i]; break;
            }
        }

        // A self-contained publish (tools/setup.sh) runs by its own launcher, as tools/run.sh runs it.
        var cmdline = verbose ? BaseCmdline : $"{BaseCmdline} quiet";
        (string Name, string File, string[] Args) ActorVmm(string name, string path, string extra = "")
        {
            var (file, prefix) = Launcher(path);
            return (name, file, [.. prefix, "run", "--kernel", kernel, "--initrd", initrd, "--memory", $"{memoryMiB}M", "--cmdline", cmdline + extra, "--serial", "stdio"]);
        }

        var vmms = new List<(string Name, string File, string[] Args)>
        {
            ActorVmm("ActorVmm", actorvmm),
            ("QEMU", "qemu-system-x86_64", ["-enable-kvm", "-M", "pc", "-cpu", "host", "-m", $"{memoryMiB}", "-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio", "-monitor", "none", "-kernel", kernel, "-initrd", initrd, "-append", cmdline]),
        };
        if (actorvmmB is not null)
        {
            vmms.Insert(1, ActorVmm("ActorVmm-B", actorvmmB));
        }

        if (acpiOff)
        {
            vmms.Insert(1, ActorVmm("AVmm-MP", actorvmm, " acpi=off"));
        }

        var exitCounts = KvmDebugfsExits.EnsureMounted();
        if (!exitCounts)
        {
            Console.WriteLine("boot benchmark: /sys/kernel/debug/kvm is missing (debugfs not mounted, not root?): no exit counts");
        }

        Console.WriteLine($"boot benchmark: {runs} runs each, interleaved, {memoryMiB} MiB guest, kernel {kernel}, actorvmm {actorvmm}{(actorvmmB is null ? string.Empty : $", actorvmm-b {actorvmmB}")}");
        Console.WriteLine($"boot benchmark: kernel command line: {cmdline}");
        Console.WriteLine($"{"VMM",-10} {"run",3} {"init line ms",12} {"exit ms",9} {"first KVM_RUN ms",16} {"RSS excl. guest MiB",20} {"private MiB",11} {"anon MiB",8} {"exit code",9} {"exits",8} {"pio",8} {"mmio",7} {"hlt",6} {"irq",6}");
        var failures = 0;
        var results = vmms.ToDictionary(v => v.Name, _ => new List<BootResult>());
        // Interleaved (A, B, A, B, ...) so that a change in the machine's load hits both VMMs alike.
        for (var run = 1; run <= runs; run++)
        {
            foreach (var (name, file, vmmArgs) in vmms)
            {
                var result = BootOnce(file, vmmArgs, (ulong)memoryMiB << 20);
                results[name].Add(result);
                failures += result.InitMs is null || result.ExitCode != 0 ? 1 : 0;
                Console.WriteLine($"{name,-10} {run,3} {Fmt(result.InitMs),12} {result.ExitMs,9:F0} {Fmt(result.FirstRunMs),16} {Fmt(result.Memory?.RssMiB),20} {Fmt(result.Memory?.PrivateMiB),11} {Fmt(result.Memory?.AnonMiB),8} {result.ExitCode,9} {Fmt(result.Exits?.Exits),8} {Fmt(result.Exits?.Io),8} {Fmt(result.Exits?.Mmio),7} {Fmt(result.Exits?.Halt),6} {Fmt(result.Exits?.Irq),6}");
            }
        }

        foreach (var (name, list) in results)
        {
            Console.WriteLine($"{name,-10} {"med",3} {Fmt(Median(list.Select(r => r.InitMs))),12} {Median(list.Select(r => (double?)r.ExitMs)),9:F0} {Fmt(Median(list.Select(r => r.FirstRunMs))),16} {Fmt(Median(list.Select(r => r.Memory?.RssMiB))),20} {Fmt(Median(list.Select(r => r.Memory?.PrivateMiB))),11} {Fmt(Median(list.Select(r => r.Memory?.AnonMiB))),8} {"",9} {Fmt(Median(list.Select(r => (double?)r.Exits?.Exits))),8} {Fmt(Median(list.Select(r => (double?)r.Exits?.Io))),8} {Fmt(Median(list.Select(r => (double?)r.Exits?.Mmio))),7} {Fmt(Median(list.Select(r => (double?)r.Exits?.Halt))),6} {Fmt(Median(list.Select(r => (double?)r.Exits?.Irq))),6}");
        }

        return failures == 0 ? 0 : 1;
    }

    private sealed record BootResult(double? InitMs, double ExitMs, double? FirstRunMs, VmmMemory? Memory, int ExitCode, KvmExitCounts? Exits);

    /// <summary>
    /// Resident memory outside guest RAM: all of it (shared libraries included), the part no other process maps, and
    /// the anonymous part (heaps, JIT code, stacks: what the process itself allocated). "Private" depends on what else
    /// runs: the framework files of a framework-dependent VMM are shared with this benchmark's own process, the files of
    /// a self-contained one are not. "Anon" does not.
    /// </summary>
    internal sealed record VmmMemory(double RssMiB, double PrivateMiB, double AnonMiB);

    private static BootResult BootOnce(string file, string[] args, ulong guestBytes)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["ACTORVMM_STARTUP_REPORT"] = "1";
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        using var exits = new KvmDebugfsExits(process.Id);
        double? initMs = null;
        double? firstRunMs = null;
        VmmMemory? memory = null;
        process.ErrorDataReceived += (_, e) =>
        {
            const string marker = "first KVM_RUN ";
            var at = e.Data?.IndexOf(marker, StringComparison.Ordinal) ?? -1;
            if (at >= 0)
            {
                var number = e.Data![(at + marker.Length)..].Split(' ')[0];
                firstRunMs = double.Parse(number, CultureInfo.InvariantCulture);
            }
        };
        process.OutputDataReceived += (_, e) =>
        {
            if (initMs is null && e.Data is not null && e.Data.Contains(InitLine, StringComparison.Ordinal))
            {
                initMs = clock.Elapsed.TotalMilliseconds;
                memory = MemoryExcludingGuest(process.Id, guestBytes);
            }
        };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();

        // A VMM that stalls (a peer once did, inside the nested runner) is killed after five minutes: the boot counts
        // as failed (no exit code 0) instead of the benchmark waiting for ever on its output.
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            Console.Error.WriteLine($"boot: {Path.GetFileName(file)} did not exit within 5 minutes; killed");
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            return new BootResult(initMs, clock.Elapsed.TotalMilliseconds, firstRunMs, memory, -1, exits.Last);
        }

        // Exited: this overload also waits for the redirected output to reach its end.
        process.WaitForExit();
        return new BootResult(initMs, clock.Elapsed.TotalMilliseconds, firstRunMs, memory, process.ExitCode, exits.Last);
    }

    /// <summary>Sums of Rss and Private_* over the process's mappings, leaving out anonymous mappings at least as large as guest RAM.</summary>
    internal static VmmMemory? MemoryExcludingGuest(int pid, ulong guestBytes)
    {
        try
        {
            ulong total = 0;
            ulong own = 0;
            ulong anon = 0;
            ulong size = 0;
            var skip = false;
            var anonymous = false;
            foreach (var line in File.ReadLines($"/proc/{pid}/smaps"))
            {
                if (line.Length > 0 && char.IsAsciiHexDigit(line[0]) && line.Contains('-'))
                {
                    var range = line.Split(' ')[0].Split('-');
                    size = ulong.Parse(range[1], NumberStyles.HexNumber) - ulong.Parse(range[0], NumberStyles.HexNumber);
                    var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    anonymous = fields.Length < 6 || fields[5].StartsWith('[');
                    skip = anonymous && size >= guestBytes;
                }
                else if (line.StartsWith("Rss:", StringComparison.Ordinal) && !skip)
                {
                    var kb = ulong.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
                    total += kb;
                    anon += anonymous ? kb : 0;
                }
                else if (line.StartsWith("Private_", StringComparison.Ordinal) && !skip)
                {
                    own += ulong.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
                }
            }

            return new VmmMemory(total / 1024.0, own / 1024.0, anon / 1024.0);
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>
    /// How to start actorvmm: a native executable (the Native AOT publish) as it is; from its main assembly, a
    /// self-contained publish (its runtimeconfig lists included frameworks) by the launcher beside it, a
    /// framework-dependent one through <c>dotnet</c>.
    /// </summary>
    internal static (string File, string[] Prefix) Launcher(string path)
    {
        if (!path.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
        {
            return (path, []);
        }

        var launcher = Path.ChangeExtension(path, null);
        var runtimeConfig = Path.ChangeExtension(path, ".runtimeconfig.json");
        var selfContained = File.Exists(runtimeConfig)
            && File.ReadAllText(runtimeConfig).Contains("\"includedFrameworks\"", StringComparison.Ordinal);
        return selfContained && File.Exists(launcher) ? (launcher, []) : ("dotnet", [path]);
    }

    internal static string FindRepo()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ActorVmm.sln")))
            {
                return dir.FullName;
            }
        }

        return Directory.GetCurrentDirectory();
    }

    private static double? Median(IEnumerable<double?> values)
    {
        var sorted = values.Where(v => v is not null).Select(v => v!.Value).Order().ToArray();
        return sorted.Length == 0 ? null : sorted[sorted.Length / 2];
    }

    private static string Fmt(long? value) => value is null ? "-" : value.Value.ToString(CultureInfo.InvariantCulture);

    private static string Fmt(double? value) => value is null ? "-" : value.Value.ToString("F0", CultureInfo.InvariantCulture);
}
