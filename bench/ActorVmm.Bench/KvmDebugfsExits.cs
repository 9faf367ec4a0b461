using System.Diagnostics;
using System.Globalization;

namespace ActorVmm.Bench;

/// <summary>KVM's own exit counters for one VM (debugfs, summed over its vCPUs): the same figures for any VMM.</summary>
internal sealed record KvmExitCounts(long Exits, long Io, long Mmio, long Halt, long Irq)
{
    public static readonly string[] Files = ["exits", "io_exits", "mmio_exits", "halt_exits", "irq_exits"];
}

/// <summary>
/// Samples <c>/sys/kernel/debug/kvm/PID-FD/</c> of a running VMM every 50 ms and keeps the last reading: the directory
/// goes with the VM, so the last sample before exit is the boot's count (a 50 ms tail may be missed).
/// </summary>
internal sealed class KvmDebugfsExits : IDisposable
{
    private const string Root = "/sys/kernel/debug/kvm";

    private readonly int _pid;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _sampler;
    private KvmExitCounts? _last;

    public KvmDebugfsExits(int pid)
    {
        _pid = pid;
        _sampler = Task.Run(SampleAsync);
    }

    /// <summary>The last reading, or null when the VMM's KVM directory was never seen (debugfs not mounted?).</summary>
    public KvmExitCounts? Last
    {
        get
        {
            _stop.Cancel();
            _sampler.Wait();
            return _last;
        }
    }

    /// <summary>Mounts debugfs when KVM's directory is missing (the nested runner runs as root); false if it stays missing.</summary>
    public static bool EnsureMounted()
    {
        if (Directory.Exists(Root))
        {
            return true;
        }

        try
        {
            using var mount = Process.Start("mount", ["-t", "debugfs", "debugfs", "/sys/kernel/debug"]);
            mount.WaitForExit();
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // No mount(8): reported as missing below.
        }

        return Directory.Exists(Root);
    }

    public void Dispose()
    {
        _stop.Cancel();
        _sampler.Wait();
        _stop.Dispose();
    }

    private async Task SampleAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            _last = Read() ?? _last;
            try
            {
                await Task.Delay(50, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    private KvmExitCounts? Read()
    {
        try
        {
            if (!Directory.Exists(Root))
            {
                return null;
            }

            var dir = Directory.GetDirectories(Root, $"{_pid}-*").FirstOrDefault();
            if (dir is null)
            {
                return null;
            }

            var v = KvmExitCounts.Files
                .Select(f => long.Parse(File.ReadAllText(Path.Combine(dir, f)).Trim(), CultureInfo.InvariantCulture))
                .ToArray();
            return new KvmExitCounts(v[0], v[1], v[2], v[3], v[4]);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }
}
