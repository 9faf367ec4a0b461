using System.Buffers.Binary;
using System.Text;
using ActorVmm.Kvm.Boot;
using ActorVmm.Kvm.Memory;

namespace ActorVmm.Kvm.Acpi;

/// <summary>
/// Builds and writes the ACPI tables of the PC: RSDP (revision 2, XSDT only) at <see cref="Layout.AcpiTablesStart"/>,
/// then FACS, XSDT, FADT, MADT and DSDT, all inside [<see cref="Layout.AcpiTablesStart"/>,
/// <see cref="Layout.AcpiTablesEnd"/>) (e820-reserved). The kernel finds the RSDP through boot_params.acpi_rsdp_addr.
/// </summary>
public static class AcpiTables
{
    public const int RsdpSize = 36;
    public const int FacsSize = 64;

    /// <summary>Processors the tables describe at most (xAPIC ids 0-254; UID 255 means "all processors").</summary>
    public const int MaxCpus = 254;

    /// <summary>The largest xAPIC id a Processor Local APIC entry can carry (255 is the broadcast id).</summary>
    public const uint MaxApicId = 254;

    /// <summary>The tables for <paramref name="platform"/> and their addresses; touches no guest memory.</summary>
    /// <exception cref="ArgumentException">The platform is inconsistent (no CPU, duplicate or too large APIC ids, a bad PCI slot or pin, an IRQ above 15, a window past 4 GiB, ...).</exception>
    /// <exception cref="BootException">The tables do not fit in the ACPI area.</exception>
    public static AcpiTableSet Build(AcpiPlatform platform)
    {
        Validate(platform);
        var ioApicId = platform.IoApicId ?? MpTable.IoApicId([.. platform.ApicIds.Select(id => (int)id)]);
        var dsdt = Dsdt.Build(platform);
        var madt = Madt.Build(platform.ApicIds, ioApicId);

        var rsdpAt = Layout.AcpiTablesStart;
        var facsAt = Align(rsdpAt + RsdpSize, 64);
        var xsdtAt = Align(facsAt + FacsSize, 16);
        const int xsdtEntries = 2; // FADT, MADT (the FADT points at the DSDT and FACS)
        var xsdtSize = AcpiSdt.HeaderSize + (8 * xsdtEntries);
        var fadtAt = Align(xsdtAt + (ulong)xsdtSize, 16);
        var madtAt = Align(fadtAt + Fadt.Length, 16);
        var dsdtAt = Align(madtAt + (ulong)madt.Length, 16);
        var end = dsdtAt + (ulong)dsdt.Length;
        if (end > Layout.AcpiTablesEnd)
        {
            throw new BootException(BootError.TableDoesNotFit,
                $"ACPI tables for {platform.ApicIds.Count} CPUs, {platform.SerialPorts.Count} COM ports, {platform.PciRoutes.Count} PCI routes and {platform.VirtioMmio.Count} virtio-mmio devices need {end - Layout.AcpiTablesStart} bytes; the area [0x{Layout.AcpiTablesStart:x}, 0x{Layout.AcpiTablesEnd:x}) holds {Layout.AcpiTablesEnd - Layout.AcpiTablesStart}");
        }

        var fadt = Fadt.Build(facsAt, dsdtAt);
        var xsdt = AcpiSdt.Create("XSDT", xsdtSize, 1);
        BinaryPrimitives.WriteUInt64LittleEndian(xsdt.AsSpan(AcpiSdt.HeaderSize), fadtAt);
        BinaryPrimitives.WriteUInt64LittleEndian(xsdt.AsSpan(AcpiSdt.HeaderSize + 8), madtAt);
        AcpiSdt.Seal(xsdt);

        return new AcpiTableSet(new GuestAddress(rsdpAt),
        [
            new AcpiTable("RSDP", new GuestAddress(rsdpAt), Rsdp(xsdtAt)),
            new AcpiTable("FACS", new GuestAddress(facsAt), Facs()),
            new AcpiTable("XSDT", new GuestAddress(xsdtAt), xsdt),
            new AcpiTable("FACP", new GuestAddress(fadtAt), fadt),
            new AcpiTable("APIC", new GuestAddress(madtAt), madt),
            new AcpiTable("DSDT", new GuestAddress(dsdtAt), dsdt),
        ]);
    }

    /// <summary>Builds the tables and writes them into guest memory; returns the RSDP's address.</summary>
    /// <exception cref="ArgumentException">The platform is inconsistent (see <see cref="Build"/>).</exception>
    /// <exception cref="BootException">The tables do not fit in the ACPI area or the area is not guest RAM.</exception>
    public static GuestAddress Write(GuestMemory memory, AcpiPlatform platform)
    {
        ArgumentNullException.ThrowIfNull(memory);
        var set = Build(platform);
        foreach (var table in set.Tables)
        {
            if (!memory.TryWrite(table.Address, table.Bytes))
            {
                throw new BootException(BootError.TableDoesNotFit,
                    $"ACPI table {table.Signature} at 0x{table.Address.Value:x} (+{table.Bytes.Length} bytes) is outside guest RAM");
            }
        }

        return set.Rsdp;
    }

    /// <summary>The RSDP, revision 2: no RSDT, the XSDT's address, both checksums.</summary>
    private static byte[] Rsdp(ulong xsdt)
    {
        var r = new byte[RsdpSize];
        Encoding.ASCII.GetBytes("RSD PTR ", r);
        Encoding.ASCII.GetBytes(AcpiSdt.OemId, r.AsSpan(9));
        r[15] = 2; // revision: ACPI 2.0+
        BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(16), 0); // RSDT: none
        BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(20), RsdpSize);
        BinaryPrimitives.WriteUInt64LittleEndian(r.AsSpan(24), xsdt);
        r[8] = AcpiSdt.Checksum(r.AsSpan(0, 20));
        r[32] = AcpiSdt.Checksum(r);
        return r;
    }

    /// <summary>The Firmware ACPI Control Structure: no waking vector, no global lock owner (the OS needs one to exist).</summary>
    private static byte[] Facs()
    {
        var f = new byte[FacsSize];
        Encoding.ASCII.GetBytes("FACS", f);
        BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan(4), FacsSize);
        f[32] = 2; // version
        return f;
    }

    private static void Validate(AcpiPlatform platform)
    {
        ArgumentNullException.ThrowIfNull(platform);
        var ids = platform.ApicIds ?? throw new ArgumentException("ACPI platform without APIC ids", nameof(platform));
        if (ids.Count is 0 or > MaxCpus)
        {
            throw new ArgumentException($"ACPI tables describe 1-{MaxCpus} CPUs, not {ids.Count}", nameof(platform));
        }

        foreach (var id in ids)
        {
            if (id > MaxApicId)
            {
                throw new ArgumentException($"APIC id {id} does not fit an xAPIC MADT entry (at most {MaxApicId})", nameof(platform));
            }
        }

        if (ids.Distinct().Count() != ids.Count)
        {
            throw new ArgumentException($"APIC ids [{string.Join(", ", ids)}] are not unique", nameof(platform));
        }

        foreach (var com in platform.SerialPorts)
        {
            if (com.Irq >= Layout.IsaIrqCount || com.Port > ushort.MaxValue - 7)
            {
                throw new ArgumentException($"COM port 0x{com.Port:x} IRQ {com.Irq}: the IRQ must be 0-15 and the 8 ports below 0x10000", nameof(platform));
            }
        }

        foreach (var route in platform.PciRoutes)
        {
            if (route.Slot is < 0 or > 31 || route.Pin is < 0 or > 3)
            {
                throw new ArgumentException($"PCI route {route}: slot must be 0-31 and pin 0-3 (INTA#-INTD#)", nameof(platform));
            }
        }

        if (platform.PciRoutes.Count > 32 * 4 || platform.PciRoutes.DistinctBy(r => (r.Slot, r.Pin)).Count() != platform.PciRoutes.Count)
        {
            throw new ArgumentException($"{platform.PciRoutes.Count} PCI routes: at most one per slot and pin (128)", nameof(platform));
        }

        if (platform.SerialPorts.Count > 4)
        {
            throw new ArgumentException($"{platform.SerialPorts.Count} COM ports; a PC has at most 4", nameof(platform));
        }

        if (platform.VirtioMmio.Count > 256)
        {
            throw new ArgumentException($"{platform.VirtioMmio.Count} virtio-mmio devices; the DSDT names at most 256", nameof(platform));
        }

        foreach (var dev in platform.VirtioMmio)
        {
            if (dev.Size == 0 || dev.Base > uint.MaxValue || dev.Size - 1 > uint.MaxValue - dev.Base)
            {
                throw new ArgumentException($"virtio-mmio window 0x{dev.Base:x} +0x{dev.Size:x} is empty or ends past 4 GiB", nameof(platform));
            }
        }

        if (platform.PciMmio32Size == 0 || platform.PciMmio32Start > uint.MaxValue || platform.PciMmio32Size - 1 > uint.MaxValue - platform.PciMmio32Start)
        {
            throw new ArgumentException($"32-bit PCI window 0x{platform.PciMmio32Start:x} +0x{platform.PciMmio32Size:x} is empty or ends past 4 GiB", nameof(platform));
        }

        if (platform.PciMmio64Size > 0 && platform.PciMmio64Size - 1 > ulong.MaxValue - platform.PciMmio64Start)
        {
            throw new ArgumentException($"64-bit PCI window 0x{platform.PciMmio64Start:x} +0x{platform.PciMmio64Size:x} wraps past 2^64", nameof(platform));
        }
    }

    private static ulong Align(ulong value, ulong alignment) => (value + alignment - 1) & ~(alignment - 1);
}
