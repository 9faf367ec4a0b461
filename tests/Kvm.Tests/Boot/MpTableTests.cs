using System.Buffers.Binary;
using System.Text;
using ActorVmm.Kvm.Boot;
using ActorVmm.Kvm.Memory;
using Xunit;
using static ActorVmm.Kvm.Tests.Boot.TestImages;

namespace ActorVmm.Kvm.Tests.Boot;

public sealed class MpTableTests
{
    private static byte[] ReadTable(GuestMemory memory, int size)
    {
        var bytes = new byte[size];
        memory.Read(new GuestAddress(Layout.MpTableStart), bytes);
        return bytes;
    }

    private static int Sum(ReadOnlySpan<byte> bytes)
    {
        var sum = 0;
        foreach (var b in bytes)
        {
            sum += b;
        }

        return sum & 0xff;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(40)]
    public void Checksums_should_sum_to_zero(int cpus)
    {
        using var memory = Ram(32 * MiB);

        var size = MpTable.Write(memory, cpus);

        var t = ReadTable(memory, size);
        Assert.Equal("_MP_", Encoding.ASCII.GetString(t, 0, 4));
        Assert.Equal(0, Sum(t.AsSpan(0, 16)));
        var configLength = BinaryPrimitives.ReadUInt16LittleEndian(t.AsSpan(16 + 4));
        Assert.Equal(size - 16, configLength);
        Assert.Equal(0, Sum(t.AsSpan(16, configLength)));
    }

    [Fact]
    public void Floating_pointer_and_header_bytes_should_follow_the_spec()
    {
        using var memory = Ram(32 * MiB);

        var size = MpTable.Write(memory, 1);

        var t = ReadTable(memory, size);
        Assert.Equal((uint)(Layout.MpTableStart + 16), BinaryPrimitives.ReadUInt32LittleEndian(t.AsSpan(4)));
        Assert.Equal(1, t[8]); // length in paragraphs
        Assert.Equal(4, t[9]); // spec 1.4
        Assert.Equal([0, 0, 0, 0, 0], t[11..16]); // feature bytes: config table present, virtual wire
        Assert.Equal("PCMP", Encoding.ASCII.GetString(t, 16, 4));
        Assert.Equal(4, t[16 + 6]);
        Assert.Equal((uint)Layout.LapicStart, BinaryPrimitives.ReadUInt32LittleEndian(t.AsSpan(16 + 36)));
        Assert.Equal(16 + 44 + 20 + 8 + 8 + 16 * 8 + 2 * 8, size);
        Assert.Equal(1 + 1 + 1 + 16 + 2, BinaryPrimitives.ReadUInt16LittleEndian(t.AsSpan(16 + 34)));

        // First entry: processor 0, the bootstrap processor.
        Assert.Equal([0, 0, 0x14, 0x03, 0x00, 0x06, 0, 0, 0x01, 0x02, 0, 0], t[60..72]);
        // Then the ISA bus (id 1: id 0 is PCI bus 0's), the I/O APIC (id 1 = cpus, version 0x11, enabled, 0xFEC00000) and ISA IRQ 0 → pin 0.
        Assert.Equal([1, 1, (byte)'I', (byte)'S', (byte)'A', (byte)' ', (byte)' ', (byte)' '], t[80..88]);
        Assert.Equal([2, 1, 0x11, 1, 0x00, 0x00, 0xc0, 0xfe], t[88..96]);
        Assert.Equal([3, 0, 0, 0, MpTable.IsaBusId, 0, 1, 0], t[96..104]);
        // Last two: ExtINT → LINT0 of APIC 0, NMI → LINT1 of all APICs.
        Assert.Equal([4, 3, 0, 0, MpTable.IsaBusId, 0, 0, 0], t[(size - 16)..(size - 8)]);
        Assert.Equal([4, 1, 0, 0, MpTable.IsaBusId, 0, 0xff, 1], t[(size - 8)..size]);
    }

    [Fact]
    public void Entries_should_list_every_cpu_the_io_apic_and_identity_routed_isa_irqs()
    {
        using var memory = Ram(32 * MiB);
        const int cpus = 8;

        var size = MpTable.Write(memory, cpus);

        var t = ReadTable(memory, size);
        var entries = Entries(t);
        Assert.Equal(BinaryPrimitives.ReadUInt16LittleEndian(t.AsSpan(16 + 34)), entries.Count);
        var processors = entries.Where(e => e[0] == MpTable.ProcessorEntry).ToList();
        Assert.Equal(Enumerable.Range(0, cpus).Select(i => (byte)i), processors.Select(p => p[1]));
        Assert.All(processors, p => Assert.Equal(1, p[3] & 1));
        Assert.Equal([true, false, false, false, false, false, false, false], processors.Select(p => (p[3] & 2) != 0));
        var ioApic = Assert.Single(entries, e => e[0] == MpTable.IoApicEntry);
        Assert.Equal(cpus, ioApic[1]);
        Assert.Equal(0x11, ioApic[2]);
        Assert.Equal(0xFEC0_0000u, BinaryPrimitives.ReadUInt32LittleEndian(ioApic.AsSpan(4)));
        var irqs = entries.Where(e => e[0] == MpTable.IoInterruptEntry).ToList();
        Assert.Equal(16, irqs.Count);
        Assert.All(irqs, e =>
        {
            Assert.Equal(MpTable.InterruptTypeInt, e[1]);
            Assert.Equal(MpTable.IsaBusId, e[4]);
            Assert.Equal(cpus, e[6]);
            Assert.Equal(e[5], e[7]);
        });
        Assert.Equal(Enumerable.Range(0, 16).Select(i => (byte)i), irqs.Select(e => e[5]));
        Assert.Equal(2, entries.Count(e => e[0] == MpTable.LocalInterruptEntry));
    }

    [Fact]
    public void Pci_interrupts_should_add_a_pci_bus_and_level_triggered_entries()
    {
        using var memory = Ram(32 * MiB);
        var config = new MpTableConfig(2) { PciInterrupts = [new MpPciInterrupt(3, 0, 16), new MpPciInterrupt(4, 1, 17)] };

        var size = MpTable.Write(memory, config);

        var t = ReadTable(memory, size);
        Assert.Equal(0, Sum(t.AsSpan(16, size - 16)));
        var entries = Entries(t);
        var pciBus = Assert.Single(entries, e => e[0] == MpTable.BusEntry && e[1] == MpTable.PciBusId);
        Assert.Equal("PCI   ", Encoding.ASCII.GetString(pciBus, 2, 6));
        var pci = entries.Where(e => e[0] == MpTable.IoInterruptEntry && e[4] == MpTable.PciBusId).ToList();
        Assert.Equal(2, pci.Count);
        // Source bus 0: Linux matches it against the PCI bus number.
        Assert.Equal([3, 0, 0x0f, 0, 0, (3 << 2) | 0, 2, 16], pci[0]);
        Assert.Equal([3, 0, 0x0f, 0, 0, (4 << 2) | 1, 2, 17], pci[1]);
    }

    [Fact]
    public void Io_apic_id_should_follow_the_highest_cpu_and_never_be_the_broadcast_id()
    {
        Assert.Equal(7, MpTable.IoApicId([0, 1, 2, 4, 5, 6]));
        Assert.Equal(3, MpTable.IoApicId([.. Enumerable.Range(0, 254).Where(id => id != 3), 254]));
        Assert.NotEqual(255, MpTable.IoApicId([254]));
    }

    [Fact]
    public void Too_many_cpus_for_the_ebda_should_be_refused()
    {
        using var memory = Ram(32 * MiB);

        Assert.Equal(40, MpTable.MaxCpus);
        var ex = Assert.Throws<BootException>(() => MpTable.Write(memory, MpTable.MaxCpus + 1));

        Assert.Equal(BootError.TableDoesNotFit, ex.Error);
        Assert.Equal(0, memory.Read<byte>(new GuestAddress(Layout.MpTableStart)));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void Non_positive_cpu_count_should_be_refused(int cpus)
    {
        using var memory = Ram(32 * MiB);

        Assert.Throws<ArgumentOutOfRangeException>(() => MpTable.Write(memory, cpus));
    }

    [Fact]
    public void Bad_pci_device_or_pin_should_be_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => MpTable.Build(new MpTableConfig(1) { PciInterrupts = [new MpPciInterrupt(32, 0, 16)] }));
        Assert.Throws<ArgumentOutOfRangeException>(() => MpTable.Build(new MpTableConfig(1) { PciInterrupts = [new MpPciInterrupt(1, 4, 16)] }));
    }

    [Fact]
    public void Guest_without_the_ebda_in_ram_should_be_refused()
    {
        using var memory = GuestMemory.Create([(GuestAddress.Zero, 0x9f000)]);

        Assert.Equal(BootError.TableDoesNotFit, Assert.Throws<BootException>(() => MpTable.Write(memory, 1)).Error);
    }

    [Fact]
    public void Processor_entries_should_carry_the_topologys_apic_ids_and_the_io_apic_the_next_id()
    {
        var table = MpTable.Build(new MpTableConfig(6) { ApicIds = [0, 1, 2, 4, 5, 6] });

        var entries = Entries(table);
        Assert.Equal([0, 1, 2, 4, 5, 6], entries.Where(e => e[0] == MpTable.ProcessorEntry).Select(e => (int)e[1]));
        Assert.Equal(0x03, entries[0][3]); // the first is the bootstrap processor
        Assert.Equal(7, entries.Single(e => e[0] == MpTable.IoApicEntry)[1]);
        Assert.All(entries.Where(e => e[0] == MpTable.IoInterruptEntry), e => Assert.Equal(7, e[6]));
    }

    [Fact]
    public void Apic_ids_that_do_not_match_the_cpus_should_be_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => MpTable.Build(new MpTableConfig(2) { ApicIds = [0] }));
        Assert.Throws<ArgumentOutOfRangeException>(() => MpTable.Build(new MpTableConfig(2) { ApicIds = [0, 0] }));
        Assert.Throws<ArgumentOutOfRangeException>(() => MpTable.Build(new MpTableConfig(2) { ApicIds = [0, 255] }));
    }

    [Fact]
    public void Fits_should_stop_at_the_max_cpus_and_count_pci_interrupts()
    {
        Assert.True(MpTable.Fits(new MpTableConfig(MpTable.MaxCpus)));
        Assert.False(MpTable.Fits(new MpTableConfig(MpTable.MaxCpus + 1)));
        Assert.False(MpTable.Fits(new MpTableConfig(MpTable.MaxCpus) { PciInterrupts = [new MpPciInterrupt(1, 0, 16)] }));
    }

    /// <summary>Splits the configuration table into entries by their type's size.</summary>
    private static List<byte[]> Entries(byte[] t)
    {
        var list = new List<byte[]>();
        var at = 16 + 44;
        while (at < t.Length)
        {
            var size = t[at] == MpTable.ProcessorEntry ? 20 : 8;
            list.Add(t[at..(at + size)]);
            at += size;
        }

        return list;
    }
}
