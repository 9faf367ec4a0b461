namespace ActorVmm.Testing;

/// <summary>
/// The VM a test boots. Every property maps to a key of <c>actorvmm.vm</c> (hocon/reference.conf); unset ones take
/// reference.conf's defaults. With no <see cref="Kernel"/> the default guest (tools/guest/build-guest.sh, or
/// <c>ACTORVMM_GUEST_DIR</c>) boots.
/// </summary>
public sealed class TestVmOptions
{
    /// <summary>vCPUs (1..254).</summary>
    public int Cpus { get; init; } = 1;

    /// <summary>Guest RAM as HOCON sizes it: <c>256M</c>, <c>1G</c>.</summary>
    public string Memory { get; init; } = "256M";

    /// <summary>A bzImage; null: the default guest's.</summary>
    public string? Kernel { get; init; }

    /// <summary>An initrd; null: none, or the default guest's with no <see cref="Kernel"/>.</summary>
    public string? Initrd { get; init; }

    /// <summary>The kernel command line; null: reference.conf's (COM1 console, <c>reboot=k panic=-1</c>).</summary>
    public string? Cmdline { get; init; }

    /// <summary>virtio-blk disks: disk0 (vda), disk1 (vdb), ...</summary>
    public IReadOnlyList<TestDisk> Disks { get; init; } = [];

    /// <summary>Whether the VM has a virtio-rng (rng0).</summary>
    public bool Rng { get; init; }

    /// <summary><c>serial</c> (COM1) or <c>virtio</c> (hvc0): where the console <see cref="TestVm"/> reads is.</summary>
    public string Console { get; init; } = "serial";

    /// <summary>Faults armed before the first instruction, in the <c>--fault</c> grammar (<c>disk0:crash,every=3</c>).</summary>
    public IReadOnlyList<string> Faults { get; init; } = [];

    /// <summary>
    /// HOCON for everything else of <c>actorvmm</c> (hocon/reference.conf), under the options above: e.g.
    /// <c>actorvmm.supervision.max-restarts = 100</c> for a test that crashes a device more than 10 times a minute.
    /// </summary>
    public string Hocon { get; init; } = string.Empty;

    /// <summary>
    /// A snapshot directory (<see cref="TestVm.SnapshotAsync"/>) to restore instead of booting: the machine (cpus,
    /// memory, kernel, cmdline, devices) is the snapshot's and the options for them are not sent; <see cref="Disks"/>,
    /// when given, replace its disks one for one, and <see cref="Faults"/> apply.
    /// </summary>
    public string? Restore { get; init; }

    /// <summary>How long <see cref="TestVm.StartAsync"/> and the waits allow by default.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(5);
}

/// <summary>A virtio-blk disk (vda, vdb, ... in order): an existing image file.</summary>
/// <param name="Path">The image file.</param>
/// <param name="ReadOnly">Whether the guest sees it read-only.</param>
public sealed record TestDisk(string Path, bool ReadOnly = false);
