using System.Buffers.Binary;

namespace ActorVmm.Kvm.Acpi;

/// <summary>
/// The Multiple APIC Description Table (signature APIC): the local APIC address with PCAT_COMPAT (8259s present),
/// one Processor Local APIC per vCPU, the I/O APIC with GSI base 0, the SCI's interrupt source override (level,
/// active high) and NMI on LINT1 of every processor.
/// <para>
/// ISA IRQ 0 gets no override to GSI 2 (QEMU's): ActorVmm keeps KVM's default routing, where the PIT drives I/O APIC
/// input 0, as the MP table says too.
/// </para>
/// </summary>
public static class Madt
{
    public const byte Revision = 5;
    public const int FixedSize = AcpiSdt.HeaderSize + 8;
    public const int LocalApicEntrySize = 8;
    public const int IoApicEntrySize = 12;
    public const int SourceOverrideEntrySize = 10;
    public const int LocalApicNmiEntrySize = 6;

    public const byte TypeLocalApic = 0;
    public const byte TypeIoApic = 1;
    public const byte TypeSourceOverride = 2;
    public const byte TypeLocalApicNmi = 4;

    public const uint FlagPcatCompat = 1;
    public const uint LocalApicEnabled = 1;

    /// <summary>MPS INTI flags of the SCI: active high (01), level-triggered (11 &lt;&lt; 2).</summary>
    public const ushort SciFlags = 0x000D;

    /// <summary>The processor UID that means "all processors" in a Local APIC NMI entry.</summary>
    public const byte AllProcessors = 0xFF;

    /// <summary>The table's size for <paramref name="cpus"/> processors.</summary>
    public static int Size(int cpus) =>
        FixedSize + (cpus * LocalApicEntrySize) + IoApicEntrySize + SourceOverrideEntrySize + LocalApicNmiEntrySize;

    /// <summary>The MADT for processors with APIC ids <paramref name="apicIds"/> (UID = index) and an I/O APIC with <paramref name="ioApicId"/>.</summary>
    public static byte[] Build(IReadOnlyList<uint> apicIds, byte ioApicId)
    {
        ArgumentNullException.ThrowIfNull(apicIds);
        var t = AcpiSdt.Create("APIC", Size(apicIds.Count), Revision);
        var s = t.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(s[36..], (uint)Layout.LapicStart);
        BinaryPrimitives.WriteUInt32LittleEndian(s[40..], FlagPcatCompat);
        var at = FixedSize;
        for (var uid = 0; uid < apicIds.Count; uid++)
        {
            var e = s.Slice(at, LocalApicEntrySize);
            e[0] = TypeLocalApic;
            e[1] = LocalApicEntrySize;
            e[2] = (byte)uid;
            e[3] = (byte)apicIds[uid];
            BinaryPrimitives.WriteUInt32LittleEndian(e[4..], LocalApicEnabled);
            at += LocalApicEntrySize;
        }

        {
            var e = s.Slice(at, IoApicEntrySize);
            e[0] = TypeIoApic;
            e[1] = IoApicEntrySize;
            e[2] = ioApicId;
            BinaryPrimitives.WriteUInt32LittleEndian(e[4..], (uint)Layout.IoApicStart);
            BinaryPrimitives.WriteUInt32LittleEndian(e[8..], 0); // GSI base
            at += IoApicEntrySize;
        }

        {
            var e = s.Slice(at, SourceOverrideEntrySize);
            e[0] = TypeSourceOverride;
            e[1] = SourceOverrideEntrySize;
            e[2] = 0; // ISA
            e[3] = (byte)Layout.SciIrq;
            BinaryPrimitives.WriteUInt32LittleEndian(e[4..], Layout.SciIrq);
            BinaryPrimitives.WriteUInt16LittleEndian(e[8..], SciFlags);
            at += SourceOverrideEntrySize;
        }

        {
            var e = s.Slice(at, LocalApicNmiEntrySize);
            e[0] = TypeLocalApicNmi;
            e[1] = LocalApicNmiEntrySize;
            e[2] = AllProcessors;
            BinaryPrimitives.WriteUInt16LittleEndian(e[3..], 0); // conforming polarity and trigger
            e[5] = 1; // LINT1
        }

        return AcpiSdt.Seal(t);
    }
}
