using System.Buffers.Binary;
using System.Diagnostics;

namespace ActorVmm.Bench;

/// <summary>
/// The peer figure for <c>bench kvm-exits</c>: Debian's QEMU (<c>-enable-kvm -M pc -cpu host</c>) running the same
/// real-mode loop (<c>out dx, al; in al, dx</c>, N times) as its firmware, on a port no QEMU device claims, so each
/// access is one KVM exit that QEMU handles in user space, as ActorVmm does. The loop ends with a write to QEMU's
/// isa-debug-exit port. A QEMU run includes its start-up, so the rate is the slope between two loop counts
/// (medians of interleaved runs): start-up cancels out.
/// </summary>
internal static class QemuExitPeer
{
    /// <summary>A port QEMU's pc machine leaves unassigned (0x510 is fw_cfg there).</summary>
    private const ushort Port = 0x520;

    private const ushort DebugExitPort = 0xf4;

    /// <summary>Exits per second, or null (with the reason on stderr) when QEMU is missing or a run fails.</summary>
    public static double? Measure(int loops, int repeats)
    {
        var qemu = FindQemu();
        if (qemu is null)
        {
            Console.Error.WriteLine("kvm-exits: qemu-system-x86_64 not found: no peer figure");
            return null;
        }

        var dir = Path.Combine(Path.GetTempPath(), "actorvmm-kvm-exits-bench");
        Directory.CreateDirectory(dir);
        var small = Path.Combine(dir, "peer-small.bin");
        var large = Path.Combine(dir, "peer-large.bin");
        File.WriteAllBytes(small, Firmware(loops));
        File.WriteAllBytes(large, Firmware(3 * loops));
        var smallTimes = new List<double>();
        var largeTimes = new List<double>();
        for (var i = 0; i < repeats; i++)
        {
            var a = RunSeconds(qemu, small);
            var b = RunSeconds(qemu, large);
            if (a is null || b is null)
            {
                return null;
            }

            smallTimes.Add(a.Value);
            largeTimes.Add(b.Value);
        }

        var slope = TracingModes.Median(largeTimes) - TracingModes.Median(smallTimes);
        return slope > 0 ? 2.0 * 2 * loops / slope : null;
    }

    /// <summary>
    /// A 64 KiB firmware image: the reset vector (0xFFFF0) jumps to F000:0000, which runs
    /// <c>mov ecx, N; mov dx, Port; l: out dx, al; in al, dx; dec ecx; jnz l; out 0xf4, al; hlt</c>.
    /// </summary>
    internal static byte[] Firmware(int loops)
    {
        var image = new byte[0x10000];
        byte[] code = [0x66, 0xB9, 0, 0, 0, 0, 0xBA, 0, 0, 0xEE, 0xEC, 0x66, 0x49, 0x75, 0xFA, 0xB0, 0x00, 0xE6, (byte)DebugExitPort, 0xF4, 0xEB, 0xFD];
        BinaryPrimitives.WriteInt32LittleEndian(code.AsSpan(2), loops);
        BinaryPrimitives.WriteUInt16LittleEndian(code.AsSpan(7), Port);
        code.CopyTo(image, 0);
        byte[] reset = [0xEA, 0x00, 0x00, 0x00, 0xF0]; // jmp far F000:0000
        reset.CopyTo(image, 0xFFF0);
        return image;
    }

    private static double? RunSeconds(string qemu, string firmware)
    {
        var start = new ProcessStartInfo(qemu)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        foreach (var arg in new[]
        {
            "-enable-kvm", "-M", "pc", "-cpu", "host", "-m", "16", "-nodefaults", "-no-user-config", "-display", "none",
            "-bios", firmware, "-device", $"isa-debug-exit,iobase=0x{DebugExitPort:x},iosize=1", "-no-reboot",
        })
        {
            start.ArgumentList.Add(arg);
        }

        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(90)))
        {
            process.Kill();
            Console.Error.WriteLine("kvm-exits: a QEMU peer run did not finish in 90 s: no peer figure");
            return null;
        }

        var seconds = clock.Elapsed.TotalSeconds;
        // isa-debug-exit: QEMU exits with (value << 1) | 1 = 1 for the loop's "out 0xf4, al" with al = 0. QEMU's own
        // failures (no KVM, a bad option) also exit 1, but say why on stderr.
        var errors = stderr.Result.Trim() + stdout.Result.Trim();
        if (process.ExitCode != 1 || errors.Length > 0)
        {
            Console.Error.WriteLine($"kvm-exits: a QEMU peer run exited {process.ExitCode}: {errors}");
            return null;
        }

        return seconds;
    }

    private static string? FindQemu() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin")
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, "qemu-system-x86_64"))
            .FirstOrDefault(File.Exists);
}
