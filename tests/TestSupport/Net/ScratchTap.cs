using System.Diagnostics;
using System.Globalization;

namespace ActorVmm.TestSupport.Net;

/// <summary>
/// A uniquely named TAP (or TUN) interface made with iproute2 for one test, up, with <see cref="HostAddress"/>/24 on
/// it (IPv6 off, so the host sends no router solicitations through it); deleted on dispose. Needs root or
/// CAP_NET_ADMIN: when it cannot be made, the constructor throws saying why, so a test cannot pass without it.
/// </summary>
public sealed class ScratchTap : IDisposable
{
    public ScratchTap(string mode = "tap")
    {
        var id = Random.Shared.Next(1 << 24);
        Name = string.Create(CultureInfo.InvariantCulture, $"avt{id:x6}");
        HostAddress = [10, (byte)(200 + (id % 50)), (byte)(id >> 8), 1];
        PeerAddress = [HostAddress[0], HostAddress[1], HostAddress[2], 2];
        Ip($"tuntap add dev {Name} mode {mode}");
        try
        {
            TryWrite($"/proc/sys/net/ipv6/conf/{Name}/disable_ipv6", "1");
            Ip($"addr add {string.Join('.', HostAddress)}/24 dev {Name}");
            Ip($"link set {Name} up");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Name { get; }

    /// <summary>The host's address on the interface (10.x.y.1).</summary>
    public byte[] HostAddress { get; }

    /// <summary>An unused address in the same /24 (10.x.y.2), for the made-up machine on the other side.</summary>
    public byte[] PeerAddress { get; }

    /// <summary>Runs <c>ip ARGS</c>; throws with its output when it fails.</summary>
    public static void Ip(string arguments)
    {
        var (exitCode, output) = Run("ip", arguments);
        if (exitCode != 0)
        {
            throw new InvalidOperationException(
                $"'ip {arguments}' failed ({exitCode}): {output.Trim()} — TAP tests need root or CAP_NET_ADMIN and iproute2");
        }
    }

    /// <summary>Runs a program to its end; returns its exit code and its stdout and stderr together.</summary>
    public static (int ExitCode, string Output) Run(string program, string arguments)
    {
        var start = new ProcessStartInfo(program, arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {program}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    public void Dispose() => Run("ip", $"link del {Name}");

    private static void TryWrite(string path, string text)
    {
        try
        {
            File.WriteAllText(path, text);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
