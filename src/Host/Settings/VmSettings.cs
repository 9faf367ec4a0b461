using ActorVmm.Host.GuestConsole;
using ActorVmm.Actors.Settings;
using ActorVmm.Kvm;
using ActorVmm.Kvm.Linux;
using ActorVmm.Kvm.Memory;
using ActorVmm.Kvm.X86;

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
/// <param name="Restore">
/// Snapshot directory to restore instead of booting (<c>null</c>: boot). The machine then comes from the snapshot;
/// <paramref name="Disks"/>, when given, replace the snapshot's disk paths one for one.
/// </param>
/// <param name="StartPaused">Whether the vCPUs wait paused until the VM is resumed.</param>
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
    bool Rng,
    string? Restore = null,
    bool StartPaused = false)
{
    public const int MinCpus = 1;
    public const int MaxCpus = 254;
    public const ulong MinMemoryBytes = 16UL << 20;
    public const ulong MaxMemoryBytes = 1UL << 40;
    public const ulong PageSize = 4096;

    /// <summary>
    /// The vCPUs' sockets, dies, cores and threads (<c>actorvmm.vm.topology</c>); null: one socket of
    /// <see cref="Cpus"/> single-threaded cores. Its count is <see cref="Cpus"/>.
    /// </summary>
    public CpuTopology? Topology { get; init; }

    /// <summary><see cref="Topology"/>, or the flat topology of <see cref="Cpus"/> vCPUs.</summary>
    public CpuTopology CpuTopology => Topology ?? CpuTopology.Flat(Cpus);

    /// <summary>virtio-net NICs in order (net0 = eth0, net1, ...).</summary>
    public IReadOnlyList<NetSettings> Nets { get; init; } = [];

    /// <summary>Guest RAM on explicit huge pages of this size (the memory size is a multiple of it); off: ordinary pages.</summary>
    public HugePages HugePages { get; init; }

    /// <summary>Host CPUs for the vCPU threads, vCPU i on the (i mod count)-th; null: not pinned. Within this process's allowed CPUs.</summary>
    public CpuSet? PinVcpus { get; init; }

    /// <summary>Host CPUs for every other thread of this VM (queue workers, IRQ resamplers, TAP readers, pcap writers); null: not pinned.</summary>
    public CpuSet? PinIo { get; init; }

    /// <summary>The transport of every virtio device that does not name its own (a disk's or NIC's <c>transport</c>).</summary>
    public VirtioTransportKind Transport { get; init; } = VirtioTransportKind.Pci;

    /// <summary>Reads <c>actorvmm.vm</c>; at most one serial port may use stdio.</summary>
    internal static VmSettings FromConfig(HoconReader reader)
    {
        var cpus = reader.Int("actorvmm.vm.cpus", MinCpus, MaxCpus);
        var topologyText = reader.OptionalString("actorvmm.vm.topology");
        var topology = topologyText is null
            ? null
            : CpuTopology.TryParse(topologyText, cpus, out var topologyError) ?? throw reader.Fail("actorvmm.vm.topology", $"is not a topology of {cpus} vCPUs: {topologyError}");
        var memory = ReadMemory(reader, "actorvmm.vm.memory");
        var serial = ReadSerial(reader, "actorvmm.vm.serial");
        var com2 = ReadSerial(reader, "actorvmm.vm.com2");
        var com3 = ReadSerial(reader, "actorvmm.vm.com3");
        var com4 = ReadSerial(reader, "actorvmm.vm.com4");
        var stdioUser = (string?)null;
        foreach (var (key, spec) in new[] { ("actorvmm.vm.serial", serial), ("actorvmm.vm.com2", com2), ("actorvmm.vm.com3", com3), ("actorvmm.vm.com4", com4) })
        {
            if (spec.Kind != SerialSpecKind.Stdio)
            {
                continue;
            }

            if (stdioUser is not null)
            {
                throw reader.Fail(key, $"cannot be stdio: {stdioUser} already uses stdio");
            }

            stdioUser = key;
        }

        return new VmSettings(
            cpus,
            memory,
            reader.OptionalString("actorvmm.vm.kernel"),
            reader.OptionalString("actorvmm.vm.initrd"),
            reader.String("actorvmm.vm.cmdline"),
            serial,
            reader.Enum<ConsoleDevice>("actorvmm.vm.console"),
            com2,
            com3,
            com4,
            DiskSettings.ListFromConfig(reader, "actorvmm.vm.disks"),
            reader.Bool("actorvmm.vm.rng"),
            reader.OptionalString("actorvmm.vm.restore"),
            reader.Bool("actorvmm.vm.start-paused"))
        {
            Topology = topology,
            Nets = NetSettings.ListFromConfig(reader, "actorvmm.vm.nets"),
            HugePages = ReadHugePages(reader, "actorvmm.vm.hugepages", memory),
            PinVcpus = ReadCpus(reader, "actorvmm.vm.pin-vcpus"),
            PinIo = ReadCpus(reader, "actorvmm.vm.pin-io"),
            Transport = reader.Enum<VirtioTransportKind>("actorvmm.vm.transport"),
        };
    }

    private static HugePages ReadHugePages(HoconReader reader, string path, ulong memory)
    {
        var text = reader.String(path);
        if (!HugePagesExtensions.TryParse(text, out var pages))
        {
            throw reader.Fail(path, $"must be 2M, 1G or empty (off): {text}");
        }

        if (pages != HugePages.Off && memory % pages.Bytes() != 0)
        {
            throw reader.Fail(path, $"{pages.Name()} needs a memory size that is a multiple of {pages.Name()}, not {memory >> 20}M: {text}");
        }

        return pages;
    }

    /// <summary>A CPU list, checked against the CPUs this process may run on (sched_getaffinity) now, before anything starts.</summary>
    private static CpuSet? ReadCpus(HoconReader reader, string path)
    {
        if (reader.OptionalString(path) is not { } text)
        {
            return null;
        }

        if (!CpuSet.TryParse(text, out var cpus, out var error))
        {
            throw reader.Fail(path, $"must be a CPU list such as 0-3 or 2,4,6 ({error}): {text}");
        }

        CpuSet allowed;
        try
        {
            allowed = ThreadScheduling.AllowedCpus();
        }
        catch (KvmException ex)
        {
            throw reader.Fail(path, $"cannot be checked: this process's allowed CPUs are unreadable ({ex.Message})");
        }

        if (cpus.Outside(allowed) is { Count: > 0 } outside)
        {
            throw reader.Fail(path, $"must name CPUs this process may run on ({allowed}), not {string.Join(",", outside)}: {text}");
        }

        return cpus;
    }

    private static ulong ReadMemory(HoconReader reader, string path)
    {
        var bytes = reader.Size(path, out var text);
        if (bytes < MinMemoryBytes)
        {
            throw reader.Fail(path, $"must be at least 16M: {text}");
        }

        if (bytes > MaxMemoryBytes)
        {
            throw reader.Fail(path, $"must be at most 1T: {text}");
        }

        if (bytes % PageSize != 0)
        {
            throw reader.Fail(path, $"must be a multiple of 4 KiB: {text}");
        }

        return bytes;
    }

    private static SerialSpec ReadSerial(HoconReader reader, string path) =>
        SerialSpec.TryParse(reader.String(path), out var spec, out var error) ? spec : throw reader.Fail(path, error);
}
