using System.Buffers.Binary;
using System.Text;
using ActorVmm.Kvm.Acpi;
using ActorVmm.Kvm.Boot;
using ActorVmm.Kvm.Memory;
using Xunit;

namespace ActorVmm.Kvm.Tests.Acpi;

public sealed class AcpiTablesTests
{
    private static readonly AcpiPlatform Pc = new([0, 1])
    {
        SerialPorts = [new AcpiSerialPort(Layout.Com1Port, Layout.Com1Irq)],
        PciRoutes = [new AcpiPciRoute(1, 0, 16)],
    };

    private static int Sum(ReadOnlySpan<byte> bytes)
    {
        var sum = 0;
        foreach (var b in bytes)
        {
            sum += b;
        }

        return sum & 0xff;
    }

    private static uint U32(byte[] b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(at));

    private static ulong U64(byte[] b, int at) => BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(at));

    private static ushort U16(byte[] b, int at) => BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(at));

    [Theory]
    [InlineData("XSDT")]
    [InlineData("FACP")]
    [InlineData("APIC")]
    [InlineData("DSDT")]
    public void Each_table_should_carry_its_signature_length_and_a_zero_checksum(string signature)
    {
        var table = AcpiTables.Build(Pc)[signature];

        Assert.Equal(signature, Encoding.ASCII.GetString(table.Bytes, 0, 4));
        Assert.Equal((uint)table.Bytes.Length, U32(table.Bytes, 4));
        Assert.Equal(0, Sum(table.Bytes));
        Assert.Equal("ACTVMM", Encoding.ASCII.GetString(table.Bytes, 10, 6));
    }

    [Fact]
    public void Rsdp_should_be_revision_2_with_both_checksums_and_point_at_the_xsdt()
    {
        var set = AcpiTables.Build(Pc);
        var rsdp = set["RSDP"].Bytes;

        Assert.Equal(new GuestAddress(Layout.AcpiTablesStart), set.Rsdp);
        Assert.Equal(set.Rsdp, set["RSDP"].Address);
        Assert.Equal(0UL, set.Rsdp.Value % 16);
        Assert.Equal("RSD PTR ", Encoding.ASCII.GetString(rsdp, 0, 8));
        Assert.Equal(36, rsdp.Length);
        Assert.Equal(2, rsdp[15]);
        Assert.Equal(0, Sum(rsdp.AsSpan(0, 20)));
        Assert.Equal(0, Sum(rsdp));
        Assert.Equal(36u, U32(rsdp, 20));
        Assert.Equal(0u, U32(rsdp, 16));
        Assert.Equal(set["XSDT"].Address.Value, U64(rsdp, 24));
    }

    [Fact]
    public void Xsdt_should_list_the_fadt_and_madt()
    {
        var set = AcpiTables.Build(Pc);
        var xsdt = set["XSDT"].Bytes;

        Assert.Equal(36 + 16, xsdt.Length);
        Assert.Equal(set["FACP"].Address.Value, U64(xsdt, 36));
        Assert.Equal(set["APIC"].Address.Value, U64(xsdt, 44));
    }

    [Fact]
    public void Fadt_should_describe_the_legacy_pm_hardware_and_point_at_the_dsdt_and_facs()
    {
        var set = AcpiTables.Build(Pc);
        var fadt = set["FACP"].Bytes;

        Assert.Equal(276, fadt.Length);
        Assert.Equal(6, fadt[8]);
        Assert.Equal((uint)set["FACS"].Address.Value, U32(fadt, 36));
        Assert.Equal((uint)set["DSDT"].Address.Value, U32(fadt, 40));
        Assert.Equal(set["DSDT"].Address.Value, U64(fadt, 140));
        Assert.Equal(Layout.SciIrq, U16(fadt, 46));
        Assert.Equal(0u, U32(fadt, 48)); // SMI_CMD: always in ACPI mode
        Assert.Equal(Layout.AcpiPm1aEventPort, U32(fadt, 56));
        Assert.Equal(Layout.AcpiPm1aControlPort, U32(fadt, 64));
        Assert.Equal(Layout.AcpiPmTimerPort, U32(fadt, 76));
        Assert.Equal(new byte[] { 4, 2, 0, 4 }, fadt[88..92]);
        Assert.Equal(0x32, fadt[108]);
        Assert.Equal(0x0007, U16(fadt, 109) & 0x0007); // legacy devices, 8042, no VGA
        Assert.Equal(0x125u, U32(fadt, 112)); // WBINVD | PROC_C1 | SLP_BUTTON | TMR_VAL_EXT; PWR_BUTTON clear
        AssertIoGas(fadt, 148, Layout.AcpiPm1aEventPort, 32);
        AssertIoGas(fadt, 172, Layout.AcpiPm1aControlPort, 16);
        AssertIoGas(fadt, 208, Layout.AcpiPmTimerPort, 32);
    }

    private static void AssertIoGas(byte[] fadt, int at, ushort port, int bits)
    {
        Assert.Equal(1, fadt[at]);
        Assert.Equal(bits, fadt[at + 1]);
        Assert.Equal(port, U64(fadt, at + 4));
    }

    [Fact]
    public void Facs_should_be_64_byte_aligned_with_its_signature()
    {
        var facs = AcpiTables.Build(Pc)["FACS"];

        Assert.Equal(0UL, facs.Address.Value % 64);
        Assert.Equal("FACS", Encoding.ASCII.GetString(facs.Bytes, 0, 4));
        Assert.Equal(64u, U32(facs.Bytes, 4));
    }

    [Fact]
    public void Madt_should_give_each_processor_uid_its_own_apic_id_when_ids_are_not_contiguous()
    {
        var madt = AcpiTables.Build(new AcpiPlatform([0, 1, 4, 5]))["APIC"].Bytes;

        Assert.Equal((uint)Layout.LapicStart, U32(madt, 36));
        Assert.Equal(1u, U32(madt, 40)); // PCAT_COMPAT
        var entries = Entries(madt);
        var cpus = entries.Where(e => e[0] == 0).ToList();
        Assert.Equal([(0, 0), (1, 1), (2, 4), (3, 5)], cpus.Select(e => ((int)e[2], (int)e[3])));
        Assert.All(cpus, e => Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(e.AsSpan(4))));
        var ioApic = Assert.Single(entries, e => e[0] == 1);
        // Not 4, which a processor has: the first id past the highest.
        Assert.Equal(6, ioApic[2]);
        Assert.Equal((uint)Layout.IoApicStart, BinaryPrimitives.ReadUInt32LittleEndian(ioApic.AsSpan(4)));
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(ioApic.AsSpan(8)));
        var sci = Assert.Single(entries, e => e[0] == 2);
        Assert.Equal((byte)Layout.SciIrq, sci[3]);
        Assert.Equal(Layout.SciIrq, BinaryPrimitives.ReadUInt32LittleEndian(sci.AsSpan(4)));
        Assert.Equal(0x000D, BinaryPrimitives.ReadUInt16LittleEndian(sci.AsSpan(8))); // level, active high
        var nmi = Assert.Single(entries, e => e[0] == 4);
        Assert.Equal(0xFF, nmi[2]);
        Assert.Equal(1, nmi[5]);
    }

    private static List<byte[]> Entries(byte[] madt)
    {
        var list = new List<byte[]>();
        for (var at = 44; at < madt.Length; at += madt[at + 1])
        {
            Assert.True(madt[at + 1] >= 2, $"MADT entry at {at} has length {madt[at + 1]}");
            list.Add(madt[at..(at + madt[at + 1])]);
        }

        return list;
    }

    [Fact]
    public void Tables_for_254_cpus_and_a_full_pci_bus_should_fit_the_area_without_overlapping()
    {
        var platform = new AcpiPlatform([.. Enumerable.Range(0, AcpiTables.MaxCpus).Select(i => (uint)i)])
        {
            SerialPorts = [.. Enumerable.Range(0, 4).Select(i => new AcpiSerialPort((ushort)(0x3F8 - (i * 0x100)), 4))],
            PciRoutes = [.. Enumerable.Range(0, 128).Select(i => new AcpiPciRoute(i / 4, i % 4, 16 + (uint)(i % 8)))],
            VirtioMmio = [.. Enumerable.Range(0, Layout.VirtioMmioMaxDevices).Select(i =>
                new AcpiMmioDevice(Layout.VirtioMmioStart + ((ulong)i * Layout.VirtioMmioSize), Layout.VirtioMmioSize, 5, false))],
            IoApicId = 0xFE,
        };

        var set = AcpiTables.Build(platform);

        Assert.Equal(AcpiTables.MaxCpus, Entries(set["APIC"].Bytes).Count(e => e[0] == 0));
        var sorted = set.Tables.OrderBy(t => t.Address.Value).ToList();
        for (var i = 0; i < sorted.Count; i++)
        {
            Assert.True(sorted[i].Address.Value >= Layout.AcpiTablesStart);
            Assert.True(sorted[i].Address.Value + (ulong)sorted[i].Bytes.Length <= Layout.AcpiTablesEnd);
            if (i > 0)
            {
                Assert.True(sorted[i - 1].Address.Value + (ulong)sorted[i - 1].Bytes.Length <= sorted[i].Address.Value,
                    $"{sorted[i - 1].Signature} overlaps {sorted[i].Signature}");
            }
        }
    }

    [Fact]
    public void Write_should_put_every_table_in_guest_memory_and_return_the_rsdp()
    {
        using var memory = GuestMemory.Create([(GuestAddress.Zero, 2UL << 20)]);

        var rsdp = AcpiTables.Write(memory, Pc);

        Assert.Equal(AcpiTables.Build(Pc).Rsdp, rsdp);
        foreach (var table in AcpiTables.Build(Pc).Tables)
        {
            var bytes = new byte[table.Bytes.Length];
            memory.Read(table.Address, bytes);
            Assert.Equal(table.Bytes, bytes);
        }
    }

    [Fact]
    public void Write_should_refuse_memory_without_the_acpi_area()
    {
        using var memory = GuestMemory.Create([(GuestAddress.Zero, 0x80000UL)]);

        var ex = Assert.Throws<BootException>(() => AcpiTables.Write(memory, Pc));

        Assert.Equal(BootError.TableDoesNotFit, ex.Error);
    }

    public static TheoryData<string, AcpiPlatform> Garbage => new()
    {
        { "no CPU", new AcpiPlatform([]) },
        { "255 CPUs", new AcpiPlatform([.. Enumerable.Range(0, 255).Select(i => (uint)i)]) },
        { "APIC id 255", new AcpiPlatform([0, 255]) },
        { "duplicate APIC ids", new AcpiPlatform([0, 1, 1]) },
        { "PCI slot 32", new AcpiPlatform([0]) { PciRoutes = [new AcpiPciRoute(32, 0, 16)] } },
        { "PCI pin 4", new AcpiPlatform([0]) { PciRoutes = [new AcpiPciRoute(1, 4, 16)] } },
        { "same slot and pin twice", new AcpiPlatform([0]) { PciRoutes = [new AcpiPciRoute(1, 0, 16), new AcpiPciRoute(1, 0, 17)] } },
        { "COM IRQ 16", new AcpiPlatform([0]) { SerialPorts = [new AcpiSerialPort(0x3F8, 16)] } },
        { "5 COM ports", new AcpiPlatform([0]) { SerialPorts = [.. Enumerable.Repeat(new AcpiSerialPort(0x3F8, 4), 5)] } },
        { "too many virtio-mmio devices", new AcpiPlatform([0]) { VirtioMmio = [.. Enumerable.Repeat(new AcpiMmioDevice(Layout.VirtioMmioStart, 0x1000, 5, false), 257)] } },
        { "virtio-mmio above 4 GiB", new AcpiPlatform([0]) { VirtioMmio = [new AcpiMmioDevice(0xFFFF_F000, 0x2000, 5, false)] } },
        { "empty 32-bit window", new AcpiPlatform([0]) { PciMmio32Size = 0 } },
        { "64-bit window wrapping", new AcpiPlatform([0]) { PciMmio64Start = ulong.MaxValue, PciMmio64Size = 2 } },
    };

    [Theory]
    [MemberData(nameof(Garbage))]
    public void A_platform_the_tables_cannot_describe_should_get_a_clear_exception(string what, AcpiPlatform platform)
    {
        var ex = Assert.Throws<ArgumentException>(() => AcpiTables.Build(platform));

        Assert.False(string.IsNullOrWhiteSpace(ex.Message), what);
    }
}
