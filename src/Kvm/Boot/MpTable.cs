using System.Buffers.Binary;
using System.Text;
using ActorVmm.Kvm.Memory;

namespace ActorVmm.Kvm.Boot;

/// <summary>A PCI interrupt routed through the I/O APIC, for the MP table's PCI bus.</summary>
/// <param name="Device">PCI device number on bus 0 (0–31).</param>
/// <param name="Pin">Interrupt pin: 0 = INTA# … 3 = INTD#.</param>
/// <param name="IoApicInput">The I/O APIC input (INTIN#) the pin is wired to.</param>
public readonly record struct MpPciInterrupt(byte Device, byte Pin, byte IoApicInput);

/// <summary>What the MP table describes.</summary>
/// <param name="Cpus">Number of processors; the first (APIC id <see cref="ApicIds"/>[0]) is the bootstrap processor.</param>
public sealed record MpTableConfig(int Cpus)
{
    /// <summary>The processors' APIC ids, one per CPU; null: 0..Cpus-1.</summary>
    public IReadOnlyList<int>? ApicIds { get; init; }

    /// <summary>The APIC id of processor <paramref name="index"/>.</summary>
    public int ApicId(int index) => ApicIds is { } ids ? ids[index] : index;

    /// <summary>PCI interrupts; when any are given a PCI bus (id 0, PCI bus 0) is declared and each gets an I/O interrupt entry (level, active low).</summary>
    public IReadOnlyList<MpPciInterrupt> PciInterrupts { get; init; } = [];
}

/// <summary>
/// Writes an Intel MultiProcessor Specification 1.4 table at <see cref="Layout.MpTableStart"/>: the floating pointer
/// followed by the configuration table (processors, ISA bus, I/O APIC, ISA IRQ 0–15 identity-routed to the I/O
/// APIC as KVM's default in-kernel routing does, ExtINT on LINT0 and NMI on LINT1).
/// </summary>
public static class MpTable
{
    public const int FloatingPointerSize = 16;
    public const int HeaderSize = 44;
    public const int ProcessorEntrySize = 20;
    public const int EntrySize = 8;

    public const byte ProcessorEntry = 0;
    public const byte BusEntry = 1;
    public const byte IoApicEntry = 2;
    public const byte IoInterruptEntry = 3;
    public const byte LocalInterruptEntry = 4;

    public const byte InterruptTypeInt = 0;
    public const byte InterruptTypeNmi = 1;
    public const byte InterruptTypeExtInt = 3;

    /// <summary>MP bus id of the ISA bus. Not 0: Linux matches a PCI interrupt entry's source bus id against the PCI bus number.</summary>
    public const byte IsaBusId = 1;

    /// <summary>MP bus id of PCI bus 0: must equal the PCI bus number (Linux's IO_APIC_get_PCI_irq_vector compares them).</summary>
    public const byte PciBusId = 0;

    /// <summary>Local APIC version reported for every processor (an integrated xAPIC).</summary>
    public const byte LocalApicVersion = 0x14;

    /// <summary>I/O APIC version reported (82093AA, as KVM emulates).</summary>
    public const byte IoApicVersion = 0x11;

    /// <summary>MP interrupt flags for PCI: active low (0b11) and level triggered (0b11 &lt;&lt; 2).</summary>
    public const ushort PciInterruptFlags = 0x000f;

    private const uint CpuSignature = 0x600; // family 6, model 0, stepping 0
    private const uint CpuFeatureFpu = 0x001;
    private const uint CpuFeatureApic = 0x200;
    private const byte CpuEnabled = 0x01;
    private const byte CpuBootstrap = 0x02;

    /// <summary>The largest CPU count whose table (without PCI interrupts) fits below <see cref="Layout.MpTableEnd"/>.</summary>
    public static int MaxCpus => (int)((Layout.MpTableEnd - Layout.MpTableStart - (ulong)Size(new MpTableConfig(0))) / ProcessorEntrySize);

    /// <summary>Whether the table for <paramref name="config"/> fits below <see cref="Layout.MpTableEnd"/>.</summary>
    public static bool Fits(MpTableConfig config) => (ulong)Size(config) <= Layout.MpTableEnd - Layout.MpTableStart;

    /// <summary>The I/O APIC's id in a machine of <paramref name="cpus"/> processors: the first past their APIC ids 0..cpus-1 (the MADT uses it too).</summary>
    public static byte IoApicId(int cpus) => (byte)cpus;

    /// <summary>
    /// The I/O APIC's id for processors with APIC ids <paramref name="apicIds"/>: the first past the highest, or, when
    /// that would be 255 (the xAPIC broadcast id), the lowest id no processor has; the MADT uses it too.
    /// </summary>
    public static byte IoApicId(IReadOnlyList<int> apicIds)
    {
        ArgumentNullException.ThrowIfNull(apicIds);
        var next = apicIds.Max() + 1;
        if (next < 255)
        {
            return (byte)next;
        }

        var used = apicIds.ToHashSet();
        return (byte)Enumerable.Range(0, 255).First(id => !used.Contains(id));
    }

    /// <summary>Writes the MP table for <paramref name="cpus"/> processors; returns its size in bytes.</summary>
    /// <exception cref="BootException">It does not fit below 0xa0000 or in guest RAM.</exception>
    public static int Write(GuestMemory memory, int cpus) => Write(memory, new MpTableConfig(cpus));

    /// <summary>Writes the MP table described by <paramref name="config"/>; returns its size in bytes.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Fewer than one CPU, or a PCI interrupt with a bad device/pin.</exception>
    /// <exception cref="BootException">It does not fit below 0xa0000 or in guest RAM.</exception>
    public static int Write(GuestMemory memory, MpTableConfig config)
    {
        ArgumentNullException.ThrowIfNull(memory);
        var bytes = Build(config);
        if (!memory.TryWrite(new GuestAddress(Layout.MpTableStart), bytes))
        {
            throw new BootException(BootError.TableDoesNotFit,
                $"MP table at 0x{Layout.MpTableStart:x} (+{bytes.Length} bytes) is outside guest RAM");
        }

        return bytes.Length;
    }

    /// <summary>The MP table bytes as they go to <see cref="Layout.MpTableStart"/> (floating pointer first).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Fewer than one CPU, or a PCI interrupt with a bad device/pin.</exception>
    /// <exception cref="BootException">It does not fit below 0xa0000.</exception>
    public static byte[] Build(MpTableConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config.Cpus < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(config), config.Cpus, "an MP table needs at least one CPU");
        }

        if (config.ApicIds is { } ids && (ids.Count != config.Cpus || ids.Any(id => id is < 0 or > 254) || ids.Distinct().Count() != ids.Count))
        {
            throw new ArgumentOutOfRangeException(nameof(config), "ApicIds must hold one distinct id 0-254 per CPU");
        }

        foreach (var irq in config.PciInterrupts)
        {
            if (irq.Device > 31 || irq.Pin > 3)
            {
                throw new ArgumentOutOfRangeException(nameof(config), irq, "PCI device must be 0-31 and pin 0-3 (INTA#-INTD#)");
            }
        }

        var size = Size(config);
        if ((ulong)size > Layout.MpTableEnd - Layout.MpTableStart || config.Cpus > 254)
        {
            throw new BootException(BootError.TableDoesNotFit,
                $"MP table for {config.Cpus} CPUs needs {size} bytes; {Layout.MpTableEnd - Layout.MpTableStart} fit below 0x{Layout.MpTableEnd:x} (at most {MaxCpus} CPUs)");
        }

        var table = new byte[size];
        var ioApicId = config.ApicIds is { } apicIds ? IoApicId(apicIds) : IoApicId(config.Cpus);
        var at = FloatingPointerSize + HeaderSize;
        var entries = 0;

        for (var cpu = 0; cpu < config.Cpus; cpu++)
        {
            var e = table.AsSpan(at, ProcessorEntrySize);
            e[0] = ProcessorEntry;
            e[1] = (byte)config.ApicId(cpu);
            e[2] = LocalApicVersion;
            e[3] = (byte)(CpuEnabled | (cpu == 0 ? CpuBootstrap : 0));
            BinaryPrimitives.WriteUInt32LittleEndian(e[4..], CpuSignature);
            BinaryPrimitives.WriteUInt32LittleEndian(e[8..], CpuFeatureApic | CpuFeatureFpu);
            at += ProcessorEntrySize;
            entries++;
        }

        at = WriteBus(table, at, IsaBusId, "ISA   ");
        entries++;
        if (config.PciInterrupts.Count > 0)
        {
            at = WriteBus(table, at, PciBusId, "PCI   ");
            entries++;
        }

        {
            var e = table.AsSpan(at, EntrySize);
            e[0] = IoApicEntry;
            e[1] = ioApicId;
            e[2] = IoApicVersion;
            e[3] = 0x01; // enabled
            BinaryPrimitives.WriteUInt32LittleEndian(e[4..], (uint)Layout.IoApicStart);
            at += EntrySize;
            entries++;
        }

        for (byte irq = 0; irq < Layout.IsaIrqCount; irq++)
        {
            at = WriteInterrupt(table, at, IoInterruptEntry, InterruptTypeInt, 0, IsaBusId, irq, ioApicId, irq);
            entries++;
        }

        foreach (var pci in config.PciInterrupts)
        {
            at = WriteInterrupt(table, at, IoInterruptEntry, InterruptTypeInt, PciInterruptFlags, PciBusId,
                (byte)((pci.Device << 2) | pci.Pin), ioApicId, pci.IoApicInput);
            entries++;
        }

        at = WriteInterrupt(table, at, LocalInterruptEntry, InterruptTypeExtInt, 0, IsaBusId, 0, 0, 0);
        at = WriteInterrupt(table, at, LocalInterruptEntry, InterruptTypeNmi, 0, IsaBusId, 0, 0xff, 1);
        entries += 2;

        // Configuration table header.
        var header = table.AsSpan(FloatingPointerSize, size - FloatingPointerSize);
        Encoding.ASCII.GetBytes("PCMP", header);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], (ushort)(size - FloatingPointerSize));
        header[6] = 4; // spec revision 1.4
        Encoding.ASCII.GetBytes("ACTORVMM", header[8..]);
        Encoding.ASCII.GetBytes("ACTORVMM-000", header[16..]);
        BinaryPrimitives.WriteUInt16LittleEndian(header[34..], (ushort)entries);
        BinaryPrimitives.WriteUInt32LittleEndian(header[36..], (uint)Layout.LapicStart);
        header[7] = Checksum(header);

        // Floating pointer.
        var mpf = table.AsSpan(0, FloatingPointerSize);
        Encoding.ASCII.GetBytes("_MP_", mpf);
        BinaryPrimitives.WriteUInt32LittleEndian(mpf[4..], (uint)(Layout.MpTableStart + FloatingPointerSize));
        mpf[8] = 1; // length in 16-byte units
        mpf[9] = 4; // spec revision 1.4
        mpf[10] = Checksum(mpf);

        return table;
    }

    /// <summary>Bytes the table for <paramref name="config"/> takes, floating pointer included.</summary>
    public static int Size(MpTableConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var pci = config.PciInterrupts.Count;
        return FloatingPointerSize + HeaderSize
            + (config.Cpus * ProcessorEntrySize)
            + EntrySize * (1 + (pci > 0 ? 1 : 0)) // buses
            + EntrySize // I/O APIC
            + EntrySize * ((int)Layout.IsaIrqCount + pci)
            + EntrySize * 2; // LINT0, LINT1
    }

    private static int WriteBus(byte[] table, int at, byte id, string type)
    {
        var e = table.AsSpan(at, EntrySize);
        e[0] = BusEntry;
        e[1] = id;
        Encoding.ASCII.GetBytes(type, e[2..]);
        return at + EntrySize;
    }

    private static int WriteInterrupt(byte[] table, int at, byte entryType, byte interruptType, ushort flags,
        byte sourceBus, byte sourceIrq, byte destination, byte destinationInput)
    {
        var e = table.AsSpan(at, EntrySize);
        e[0] = entryType;
        e[1] = interruptType;
        BinaryPrimitives.WriteUInt16LittleEndian(e[2..], flags);
        e[4] = sourceBus;
        e[5] = sourceIrq;
        e[6] = destination;
        e[7] = destinationInput;
        return at + EntrySize;
    }

    /// <summary>The byte that makes <paramref name="bytes"/> (with it in place of a zero) sum to 0 mod 256.</summary>
    private static byte Checksum(ReadOnlySpan<byte> bytes)
    {
        byte sum = 0;
        foreach (var b in bytes)
        {
            sum += b;
        }

        return (byte)-sum;
    }
}
