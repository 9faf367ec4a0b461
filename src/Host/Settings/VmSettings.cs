using ActorVmm.Host.GuestConsole;
using ActorVmm.Actors.Settings;
using ActorVmm.Actors.Faults;

namespace ActorVmm.Host.Settings;

/// <summary>Which guest device is the console connected to <see cref="VmSettings.Serial"/>.</summary>
public enum ConsoleDevice
{
    /// <summary>The 16550 UART COM1 (ttyS0, port 0x3f8).</summary>
    Serial,

    /// <summary>A virtio-console device (hvc0); COM1 then exists but is not connected.</summary>
    Virtio,
}

/// <summary><c>actorvmm.vm</c>: the virtual machine.</summary>
/// <param name="Cpus">Number of vCPUs, 1..254.</param>
/// <param name="MemoryBytes">Guest RAM in bytes: at least 16 MiB, a multiple of 4 KiB.</param>
/// <param name="Kernel">Kernel image path; <c>null</c> selects the embedded default guest.</param>
/// <param name="Initrd">Initrd path; <c>null</c> for none (or the default guest's own when <paramref name="Kernel"/> is null).</param>
/// <param name="Cmdline">Kernel command line.</param>
/// <param name="Serial">Host end of the guest console (COM1, or the virtio console when <paramref name="Console"/> is virtio).</param>
/// <param name="Console">Which guest device is the console.</param>
/// <param name="Com2">Host end of COM2 (ttyS1).</param>
/// <param name="Com3">Host end of COM3 (ttyS2).</param>
/// <param name="Com4">Host end of COM4 (ttyS3).</param>
/// <param name="Disks">virtio-blk disks in order (vda, vdb, ...).</param>
/// <param name="Rng">Whether a virtio-rng device is present.</param>
public sealed record VmSettings(
    int Cpus,
    ulong MemoryBytes,
    string? Kernel,
    string? Initrd,
    string Cmdline,
    SerialSpec Serial,
    ConsoleDevice Console,
    SerialSpec Com2,
    SerialSpec Com3,
    SerialSpec Com4,
    IReadOnlyList<DiskSettings> Disks,
    bool Rng)
{
    public const int MinCpus = 1;
    public const int MaxCpus = 254;
    public const ulong MinMemoryBytes = 16UL << 20;
    public const ulong MaxMemoryBytes = 1UL << 40;
    public const ulong PageSize = 4096;
}
