using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using ActorVmm.Kvm.Boot;
using ActorVmm.Kvm.Memory;
using Xunit;
using static ActorVmm.Kvm.Tests.Boot.TestImages;

namespace ActorVmm.Kvm.Tests.Boot;

public sealed class ZeroPageTests
{
    [Fact]
    public void Structs_should_have_the_kernel_sizes()
    {
        Assert.Equal(4096, Unsafe.SizeOf<BootParams>());
        Assert.Equal(0x7b, Unsafe.SizeOf<SetupHeader>());
        Assert.Equal(20, Unsafe.SizeOf<E820Entry>());
        Assert.Equal(128 * 20, Unsafe.SizeOf<E820Table>());
    }

    [Fact]
    public void Boot_params_fields_should_sit_at_the_kernel_offsets()
    {
        var p = default(BootParams);
        p.AcpiRsdpAddr = 0x1122334455667788;
        p.ExtRamdiskImage = 0xA1A2A3A4;
        p.ExtRamdiskSize = 0xB1B2B3B4;
        p.ExtCmdLinePtr = 0xC1C2C3C4;
        p.AltMemK = 0xD1D2D3D4;
        p.E820Entries = 0xE8;
        p.Sentinel = 0xEF;
        p.Hdr.SetupSects = 0x5a;
        p.E820Table[0] = new E820Entry(0x0102030405060708, 0x1112131415161718, E820Type.Reserved);
        p.E820Table[127] = new E820Entry(0x2122232425262728, 0, E820Type.Ram);

        var bytes = MemoryMarshal.AsBytes(new ReadOnlySpan<BootParams>(in p));

        Assert.Equal(0x1122334455667788UL, BinaryPrimitives.ReadUInt64LittleEndian(bytes[0x070..]));
        Assert.Equal(0xA1A2A3A4u, BinaryPrimitives.ReadUInt32LittleEndian(bytes[0x0c0..]));
        Assert.Equal(0xB1B2B3B4u, BinaryPrimitives.ReadUInt32LittleEndian(bytes[0x0c4..]));
        Assert.Equal(0xC1C2C3C4u, BinaryPrimitives.ReadUInt32LittleEndian(bytes[0x0c8..]));
        Assert.Equal(0xD1D2D3D4u, BinaryPrimitives.ReadUInt32LittleEndian(bytes[0x1e0..]));
        Assert.Equal(0xE8, bytes[0x1e8]);
        Assert.Equal(0xEF, bytes[0x1ef]);
        Assert.Equal(0x5a, bytes[0x1f1]);
        Assert.Equal(0x0102030405060708UL, BinaryPrimitives.ReadUInt64LittleEndian(bytes[0x2d0..]));
        Assert.Equal(0x1112131415161718UL, BinaryPrimitives.ReadUInt64LittleEndian(bytes[0x2d8..]));
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32LittleEndian(bytes[0x2e0..]));
        Assert.Equal(0x2122232425262728UL, BinaryPrimitives.ReadUInt64LittleEndian(bytes[(0x2d0 + 127 * 20)..]));
        Assert.Equal(0xcd0, 0x2d0 + 128 * 20);
    }

    [Fact]
    public void Setup_header_fields_should_sit_at_the_boot_protocol_offsets()
    {
        var p = default(BootParams);
        p.Hdr.SysSize = 0x01020304;
        p.Hdr.BootFlag = 0xAA55;
        p.Hdr.Header = SetupHeader.HeaderMagic;
        p.Hdr.Version = 0x020f;
        p.Hdr.TypeOfLoader = 0xff;
        p.Hdr.LoadFlags = 0x81;
        p.Hdr.Code32Start = 0x100000;
        p.Hdr.RamdiskImage = 0x11223344;
        p.Hdr.RamdiskSize = 0x55667788;
        p.Hdr.HeapEndPtr = 0xfe00;
        p.Hdr.CmdLinePtr = 0x20000;
        p.Hdr.InitrdAddrMax = 0x7fffffff;
        p.Hdr.KernelAlignment = 0x200000;
        p.Hdr.RelocatableKernel = 1;
        p.Hdr.XLoadFlags = 0x7f;
        p.Hdr.CmdlineSize = 2047;
        p.Hdr.SetupData = 0xAABBCCDDEEFF0011;
        p.Hdr.PrefAddress = 0x1000000;
        p.Hdr.InitSize = 0x3f98000;
        p.Hdr.KernelInfoOffset = 0x12345678;

        var b = MemoryMarshal.AsBytes(new ReadOnlySpan<BootParams>(in p));

        Assert.Equal(0x01020304u, BinaryPrimitives.ReadUInt32LittleEndian(b[0x1f4..]));
        Assert.Equal((ushort)0xAA55, BinaryPrimitives.ReadUInt16LittleEndian(b[0x1fe..]));
        Assert.Equal("HdrS", Encoding.ASCII.GetString(b.Slice(0x202, 4)));
        Assert.Equal((ushort)0x020f, BinaryPrimitives.ReadUInt16LittleEndian(b[0x206..]));
        Assert.Equal(0xff, b[0x210]);
        Assert.Equal(0x81, b[0x211]);
        Assert.Equal(0x100000u, BinaryPrimitives.ReadUInt32LittleEndian(b[0x214..]));
        Assert.Equal(0x11223344u, BinaryPrimitives.ReadUInt32LittleEndian(b[0x218..]));
        Assert.Equal(0x55667788u, BinaryPrimitives.ReadUInt32LittleEndian(b[0x21c..]));
        Assert.Equal((ushort)0xfe00, BinaryPrimitives.ReadUInt16LittleEndian(b[0x224..]));
        Assert.Equal(0x20000u, BinaryPrimitives.ReadUInt32LittleEndian(b[0x228..]));
        Assert.Equal(0x7fffffffu, BinaryPrimitives.ReadUInt32LittleEndian(b[0x22c..]));
        Assert.Equal(0x200000u, BinaryPrimitives.ReadUInt32LittleEndian(b[0x230..]));
        Assert.Equal(1, b[0x234]);
        Assert.Equal((ushort)0x7f, BinaryPrimitives.ReadUInt16LittleEndian(b[0x236..]));
        Assert.Equal(2047u, BinaryPrimitives.ReadUInt32LittleEndian(b[0x238..]));
        Assert.Equal(0xAABBCCDDEEFF0011UL, BinaryPrimitives.ReadUInt64LittleEndian(b[0x250..]));
        Assert.Equal(0x1000000UL, BinaryPrimitives.ReadUInt64LittleEndian(b[0x258..]));
        Assert.Equal(0x3f98000u, BinaryPrimitives.ReadUInt32LittleEndian(b[0x260..]));
        Assert.Equal(0x12345678u, BinaryPrimitives.ReadUInt32LittleEndian(b[0x268..]));
    }

    [Fact]
    public void Zero_page_should_carry_the_kernel_header_loader_fields_cmdline_initrd_and_e820()
    {
        var ram = Layout.ArchMemoryRegions(256 * MiB);
        using var memory = GuestMemory.Create(ram);
        var kernel = BzImageLoader.Load(memory, new MemoryStream(BzImage()));
        var initrd = InitrdLoader.Load(memory, new MemoryStream(new byte[5000]), kernel);
        const string cmdline = "console=ttyS0 reboot=k panic=-1";

        var written = ZeroPage.Write(memory, kernel, initrd, cmdline, ram);

        var p = memory.Read<BootParams>(new GuestAddress(Layout.ZeroPageStart));
        Assert.Equal(MemoryMarshal.AsBytes(new ReadOnlySpan<BootParams>(in written)).ToArray(),
            MemoryMarshal.AsBytes(new ReadOnlySpan<BootParams>(in p)).ToArray());
        Assert.Equal(SetupHeader.HeaderMagic, p.Hdr.Header);
        Assert.Equal((ushort)0x020f, p.Hdr.Version);
        Assert.Equal(0x7fff_ffffu, p.Hdr.InitrdAddrMax);
        Assert.Equal(0xff, p.Hdr.TypeOfLoader);
        Assert.Equal(SetupHeader.LoadedHigh | SetupHeader.CanUseHeap, p.Hdr.LoadFlags);
        Assert.Equal(ZeroPage.HeapEndPtr, p.Hdr.HeapEndPtr);
        Assert.Equal((uint)Layout.CmdlineStart, p.Hdr.CmdLinePtr);
        Assert.Equal(0u, p.ExtCmdLinePtr);
        Assert.Equal((uint)cmdline.Length + 1, p.Hdr.CmdlineSize);
        Assert.Equal((uint)initrd.Address.Value, p.Hdr.RamdiskImage);
        Assert.Equal(5000u, p.Hdr.RamdiskSize);
        Assert.Equal(0u, p.ExtRamdiskImage);
        Assert.Equal(3, p.E820Entries);
        Assert.Equal(new E820Entry(0x100000, 255 * MiB, E820Type.Ram), p.E820Table[2]);

        var text = new byte[cmdline.Length + 1];
        memory.Read(new GuestAddress(Layout.CmdlineStart), text);
        Assert.Equal(cmdline, Encoding.ASCII.GetString(text, 0, cmdline.Length));
        Assert.Equal(0, text[^1]);
    }

    [Fact]
    public void Initrd_above_4_GiB_should_use_the_ext_fields()
    {
        var kernel = new KernelLoadResult(KernelImageKind.Elf, new GuestAddress(0x100_0000), 0, new GuestAddress(0x100_0000),
            new GuestAddress(0x200_0000), default, 0, 2048, ulong.MaxValue);
        var initrd = new InitrdLoadResult(new GuestAddress(0x1_2345_6000), 0x1_0000_0005);

        var p = ZeroPage.Build(kernel, initrd, "x", Layout.ArchMemoryRegions(8UL << 30));

        Assert.Equal(0x2345_6000u, p.Hdr.RamdiskImage);
        Assert.Equal(1u, p.ExtRamdiskImage);
        Assert.Equal(5u, p.Hdr.RamdiskSize);
        Assert.Equal(1u, p.ExtRamdiskSize);
        Assert.Equal(4, p.E820Entries);
    }

    [Fact]
    public void Without_initrd_the_ramdisk_fields_should_be_zero()
    {
        var kernel = new KernelLoadResult(KernelImageKind.Elf, new GuestAddress(0x100_0000), 0, new GuestAddress(0x100_0000),
            new GuestAddress(0x200_0000), default, 0, 2048, ulong.MaxValue);

        var p = ZeroPage.Build(kernel, null, "", Layout.ArchMemoryRegions(64 * MiB));

        Assert.Equal(0u, p.Hdr.RamdiskImage);
        Assert.Equal(0u, p.Hdr.RamdiskSize);
        Assert.Equal(1u, p.Hdr.CmdlineSize);
    }

    [Fact]
    public void Acpi_rsdp_address_should_go_to_acpi_rsdp_addr_and_default_to_none()
    {
        var kernel = new KernelLoadResult(KernelImageKind.Elf, new GuestAddress(0x100_0000), 0, new GuestAddress(0x100_0000),
            new GuestAddress(0x200_0000), default, 0, 2048, ulong.MaxValue);

        var with = ZeroPage.Build(kernel, null, "", Layout.ArchMemoryRegions(64 * MiB), new GuestAddress(Layout.AcpiTablesStart));
        var without = ZeroPage.Build(kernel, null, "", Layout.ArchMemoryRegions(64 * MiB));

        Assert.Equal(Layout.AcpiTablesStart, with.AcpiRsdpAddr);
        Assert.Equal(0UL, without.AcpiRsdpAddr);
    }

    [Fact]
    public void Command_line_should_fit_up_to_the_kernel_cmdline_size_and_no_further()
    {
        using var memory = Ram(32 * MiB);
        var kernel = BzImageLoader.Load(memory, new MemoryStream(BzImage(cmdlineSize: 2047)));
        var ram = Layout.ArchMemoryRegions(32 * MiB);

        ZeroPage.Write(memory, kernel, null, new string('a', 2047), ram);
        var ex = Assert.Throws<BootException>(() => ZeroPage.Write(memory, kernel, null, new string('a', 2048), ram));

        Assert.Equal(BootError.CommandLineTooLong, ex.Error);
        Assert.Contains("2047", ex.Message);
    }

    [Fact]
    public void Command_line_should_be_capped_by_the_layout_even_if_the_kernel_allows_more()
    {
        using var memory = Ram(32 * MiB);
        var kernel = BzImageLoader.Load(memory, new MemoryStream(BzImage(cmdlineSize: uint.MaxValue)));

        Assert.Equal(Layout.CmdlineMaxSize, kernel.CommandLineMaxSize);
        Assert.Equal(BootError.CommandLineTooLong, Assert.Throws<BootException>(() =>
            ZeroPage.Build(kernel, null, new string('a', (int)Layout.CmdlineMaxSize), Layout.ArchMemoryRegions(32 * MiB))).Error);
    }

    [Fact]
    public void Command_line_with_a_nul_should_be_refused()
    {
        var kernel = new KernelLoadResult(KernelImageKind.Elf, new GuestAddress(0x100_0000), 0, new GuestAddress(0x100_0000),
            new GuestAddress(0x200_0000), default, 0, 2048, ulong.MaxValue);

        Assert.Equal(BootError.CommandLineInvalid, Assert.Throws<BootException>(() =>
            ZeroPage.Build(kernel, null, "a\0b", Layout.ArchMemoryRegions(64 * MiB))).Error);
    }

    [Fact]
    public void Multibyte_command_line_should_be_measured_in_bytes()
    {
        Assert.Equal(BootError.CommandLineTooLong, Assert.Throws<BootException>(() =>
            KernelCommandLine.Encode(new string('é', 4), 8)).Error);
        Assert.Equal(9, KernelCommandLine.Encode(new string('é', 4), 9).Length);
    }

    [Fact]
    public void Zero_page_outside_guest_ram_should_be_refused()
    {
        using var memory = GuestMemory.Create([(new GuestAddress(0x100000), 0x100000)]);
        var kernel = new KernelLoadResult(KernelImageKind.Elf, new GuestAddress(0x100000), 0, new GuestAddress(0x100000),
            new GuestAddress(0x100000), default, 0, 2048, ulong.MaxValue);

        Assert.Equal(BootError.TableDoesNotFit, Assert.Throws<BootException>(() =>
            ZeroPage.Write(memory, kernel, null, "x", [(new GuestAddress(0x100000), 0x100000)])).Error);
    }
}
