using System.Diagnostics;

namespace ActorVmm.Vmm.Tests.Support;

/// <summary>
/// The Debian root file system of tools/rootfs/build-rootfs.sh, cached as artifacts/rootfs/rootfs.img with Debian's
/// initrd beside it (built on demand: the recipe needs root and the Debian mirror, and skips the work when up to date;
/// the nested runner has no network, so tools/test.sh builds it on the host first), and a writable copy of it for one
/// boot, so a boot never changes the cache. The copy is deleted on dispose.
/// </summary>
public sealed class DistroImage : IDisposable
{
    /// <summary>Debian's stock kernel, the one whose modules and initrd the image holds.</summary>
    public const string Kernel = "/boot/vmlinuz-6.1.0-56-amd64";

    private DistroImage(string disk) => Disk = disk;

    public static string Cached => Path.Combine(Checkout.Root(), "artifacts", "rootfs", "rootfs.img");

    /// <summary>Debian's initramfs-tools initrd for <see cref="Kernel"/>, taken out of the image.</summary>
    public static string Initrd => Path.Combine(Checkout.Root(), "artifacts", "rootfs", "rootfs.initrd");

    /// <summary>The writable copy this boot uses.</summary>
    public string Disk { get; }

    /// <summary>Builds the cached image when it is missing or stale, then copies it (sparse) under artifacts/test-images.</summary>
    public static async Task<DistroImage> PrepareAsync(CancellationToken cancellation)
    {
        var build = await RunAsync(Path.Combine(Checkout.Root(), "tools", "rootfs", "build-rootfs.sh"), [Cached], cancellation);
        Assert.True(build.ExitCode == 0, $"tools/rootfs/build-rootfs.sh {Cached} failed (exit {build.ExitCode}):\n{build.Output}");
        var dir = Path.Combine(Checkout.Root(), "artifacts", "test-images");
        Directory.CreateDirectory(dir);
        var disk = Path.Combine(dir, $"rootfs-{Guid.NewGuid():N}.img");
        var copy = await RunAsync("cp", ["--sparse=always", Cached, disk], cancellation);
        Assert.True(copy.ExitCode == 0, $"cannot copy {Cached}: {copy.Output}");
        return new DistroImage(disk);
    }

    public void Dispose()
    {
        try
        {
            File.Delete(Disk);
        }
        catch (IOException)
        {
        }
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string file, string[] arguments, CancellationToken cancellation)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            psi.ArgumentList.Add(argument);
        }

        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync(cancellation);
        var stderr = process.StandardError.ReadToEndAsync(cancellation);
        await process.WaitForExitAsync(cancellation);
        var output = await stdout + await stderr;
        return (process.ExitCode, output.Length <= 4000 ? output : output[^4000..]);
    }
}
