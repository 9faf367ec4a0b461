namespace ActorVmm.Kvm.Acpi;

/// <summary>A 16550 UART the DSDT announces (PNP0501).</summary>
/// <param name="Port">First of its 8 I/O ports.</param>
/// <param name="Irq">Its ISA IRQ (0-15).</param>
public sealed record AcpiSerialPort(ushort Port, uint Irq);

/// <summary>A PCI interrupt pin of bus 0 wired to an I/O APIC input, for the host bridge's _PRT.</summary>
/// <param name="Slot">PCI device number (0-31).</param>
/// <param name="Pin">Interrupt pin: 0 = INTA# ... 3 = INTD#.</param>
/// <param name="Gsi">The global system interrupt (level, active low, as for PCI).</param>
public sealed record AcpiPciRoute(int Slot, int Pin, uint Gsi);

/// <summary>A virtio-mmio device the DSDT announces (LNRO0005).</summary>
/// <param name="Base">Guest-physical address of its register window (below 4 GiB).</param>
/// <param name="Size">Size of the window.</param>
/// <param name="Gsi">Its interrupt.</param>
/// <param name="LevelTriggered">Level-triggered (else edge); active high either way.</param>
public sealed record AcpiMmioDevice(ulong Base, ulong Size, uint Gsi, bool LevelTriggered);

/// <summary>
/// What the ACPI tables describe: the processors (by APIC id; processor UID i has APIC id <c>ApicIds[i]</c>, and
/// UID 0 is the bootstrap processor), the legacy devices and PCI bus 0 of the PC <see cref="Layout"/> lays out.
/// </summary>
/// <param name="ApicIds">APIC id of each processor, in processor-UID order; need not be contiguous.</param>
public sealed record AcpiPlatform(IReadOnlyList<uint> ApicIds)
{
    /// <summary>COM ports present.</summary>
    public IReadOnlyList<AcpiSerialPort> SerialPorts { get; init; } = [];

    /// <summary>PCI INTx routing of bus 0.</summary>
    public IReadOnlyList<AcpiPciRoute> PciRoutes { get; init; } = [];

    /// <summary>virtio-mmio devices.</summary>
    public IReadOnlyList<AcpiMmioDevice> VirtioMmio { get; init; } = [];

    /// <summary>Whether the pvpanic device (QEMU0001 at <see cref="Layout.PvPanicPort"/>) is announced.</summary>
    public bool PvPanic { get; init; } = true;

    /// <summary>The I/O APIC's id; by default the one the MP table gives it (see <see cref="Boot.MpTable.IoApicId"/>).</summary>
    public byte? IoApicId { get; init; }

    /// <summary>Start of the 32-bit PCI BAR window the host bridge decodes.</summary>
    public ulong PciMmio32Start { get; init; } = Layout.PciMmio32Start;

    /// <summary>Size of the 32-bit PCI BAR window.</summary>
    public ulong PciMmio32Size { get; init; } = Layout.PciMmio32Size;

    /// <summary>Start of a 64-bit PCI BAR window; none when <see cref="PciMmio64Size"/> is 0 (ActorVmm places every BAR below 4 GiB today).</summary>
    public ulong PciMmio64Start { get; init; }

    /// <summary>Size of the 64-bit PCI BAR window (0: none).</summary>
    public ulong PciMmio64Size { get; init; }
}
