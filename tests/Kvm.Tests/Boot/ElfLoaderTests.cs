using System.Buffers.Binary;
using ActorVmm.Kvm.Boot;
using ActorVmm.Kvm.Memory;
using Xunit;
using static ActorVmm.Kvm.Tests.Boot.TestImages;

namespace ActorVmm.Kvm.Tests.Boot;

public sealed class ElfLoaderTests
{
    private const ulong Phys = 0x100_0000;

    private static byte[] Vmlinux(ulong? entry = null) => Elf(entry ?? Phys,
    [
        new Segment(4, 0x1000, 0, 0x10, 0x10), // PT_NOTE: ignored
        new Segment(1, 0x1000, Phys, 0x2000, 0x3000),
        new Segment(1, 0x3000, Phys + 0x10_0000, 0x1000, 0x1000),
    ]);

    [Fact]
    public void PT_LOAD_segments_should_be_copied_to_their_physical_addresses_and_bss_zeroed()
    {
        using var memory = Ram(32 * MiB);
        memory.Write(new GuestAddress(Phys + 0x2000), Enumerable.Repeat((byte)0xcc, 0x1000).ToArray());
        var image = Vmlinux();

        var kernel = ElfLoader.Load(memory, new MemoryStream(image));

        var first = new byte[0x2000];
        memory.Read(new GuestAddress(Phys), first);
        Assert.Equal(image.AsSpan(0x1000, 0x2000).ToArray(), first);
        var bss = new byte[0x1000];
        memory.Read(new GuestAddress(Phys + 0x2000), bss);
        Assert.All(bss, b => Assert.Equal(0, b));
        var second = new byte[0x1000];
        memory.Read(new GuestAddress(Phys + 0x10_0000), second);
        Assert.Equal(image.AsSpan(0x3000, 0x1000).ToArray(), second);
        Assert.Equal(KernelImageKind.Elf, kernel.Kind);
        Assert.Equal(new GuestAddress(Phys), kernel.EntryPoint);
        Assert.Equal(new GuestAddress(Phys), kernel.LoadAddress);
        Assert.Equal(new GuestAddress(Phys + 0x10_1000), kernel.End);
        Assert.Equal(0x3000UL, kernel.LoadedSize);
        Assert.Equal(SetupHeader.HeaderMagic, kernel.SetupHeader.Header);
        Assert.Equal(SetupHeader.BootFlagMagic, kernel.SetupHeader.BootFlag);
        Assert.Equal(Layout.CmdlineMaxSize, kernel.CommandLineMaxSize);
    }

    [Fact]
    public void Bad_magic_should_be_refused()
    {
        using var memory = Ram(32 * MiB);
        var image = Vmlinux();
        image[1] = (byte)'X';

        Assert.Equal(BootError.BadMagic, Assert.Throws<BootException>(() => ElfLoader.Load(memory, new MemoryStream(image))).Error);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(10)]
    [InlineData(63)]
    [InlineData(100)] // inside the program headers
    [InlineData(0x1800)] // inside the first segment
    public void Truncated_elf_should_be_refused(int length)
    {
        using var memory = Ram(32 * MiB);
        var image = Vmlinux().AsSpan(0, length).ToArray();

        Assert.Equal(BootError.Truncated, Assert.Throws<BootException>(() => ElfLoader.Load(memory, new MemoryStream(image))).Error);
    }

    [Fact]
    public void Non_x86_64_or_32_bit_elf_should_be_refused()
    {
        using var memory = Ram(32 * MiB);
        var arm = Elf(Phys, [new Segment(1, 0x1000, Phys, 0x1000, 0x1000)], machine: 183);
        var elf32 = Elf(Phys, [new Segment(1, 0x1000, Phys, 0x1000, 0x1000)], elfClass: 1);

        Assert.Equal(BootError.Unsupported, Assert.Throws<BootException>(() => ElfLoader.Load(memory, new MemoryStream(arm))).Error);
        Assert.Equal(BootError.Unsupported, Assert.Throws<BootException>(() => ElfLoader.Load(memory, new MemoryStream(elf32))).Error);
    }

    [Fact]
    public void Segment_past_end_of_file_should_be_refused()
    {
        using var memory = Ram(32 * MiB);
        var image = Elf(Phys, [new Segment(1, 0x1000, Phys, 0x10_0000, 0x10_0000)]);

        Assert.Equal(BootError.Truncated, Assert.Throws<BootException>(() => ElfLoader.Load(memory, new MemoryStream(image))).Error);
    }

    [Fact]
    public void Segment_offset_that_overflows_should_be_refused()
    {
        using var memory = Ram(32 * MiB);
        var image = Elf(Phys, [new Segment(1, ulong.MaxValue - 4, Phys, 0x1000, 0x1000)]);

        Assert.Equal(BootError.Truncated, Assert.Throws<BootException>(() => ElfLoader.Load(memory, new MemoryStream(image))).Error);
    }

    [Fact]
    public void File_size_larger_than_memory_size_should_be_refused()
    {
        using var memory = Ram(32 * MiB);
        var image = Elf(Phys, [new Segment(1, 0x1000, Phys, 0x2000, 0x1000)]);

        Assert.Equal(BootError.InvalidImage, Assert.Throws<BootException>(() => ElfLoader.Load(memory, new MemoryStream(image))).Error);
    }

    [Theory]
    [InlineData(0x1FF_F000UL, 0x2000UL)] // runs past 32 MiB
    [InlineData(0xC000_0000UL, 0x1000UL)] // in the MMIO gap
    [InlineData(0xFFFF_FFFF_FFFF_F000UL, 0x2000UL)] // wraps around
    public void Segment_outside_guest_ram_should_be_refused(ulong paddr, ulong memsz)
    {
        using var memory = Ram(32 * MiB);
        var image = Elf(paddr, [new Segment(1, 0x1000, paddr, 0x1000, memsz)]);

        Assert.Equal(BootError.KernelDoesNotFit, Assert.Throws<BootException>(() => ElfLoader.Load(memory, new MemoryStream(image))).Error);
    }

    [Fact]
    public void Entry_point_outside_the_segments_should_be_refused()
    {
        using var memory = Ram(32 * MiB);

        Assert.Equal(BootError.InvalidImage, Assert.Throws<BootException>(() =>
            ElfLoader.Load(memory, new MemoryStream(Vmlinux(entry: 0xffff_ffff_8100_0000)))).Error);
    }

    [Fact]
    public void Elf_without_loadable_segments_should_be_refused()
    {
        using var memory = Ram(32 * MiB);
        var image = Elf(Phys, [new Segment(4, 0x1000, Phys, 0x10, 0x10)]);

        Assert.Equal(BootError.InvalidImage, Assert.Throws<BootException>(() => ElfLoader.Load(memory, new MemoryStream(image))).Error);
    }

    [Fact]
    public void Wrong_program_header_size_or_huge_count_should_be_refused()
    {
        using var memory = Ram(32 * MiB);
        var badSize = Elf(Phys, [new Segment(1, 0x1000, Phys, 0x1000, 0x1000)], phentsize: 32);
        var hugeCount = Vmlinux();
        BinaryPrimitives.WriteUInt16LittleEndian(hugeCount.AsSpan(56), 0xffff);
        var tableOutside = Vmlinux();
        BinaryPrimitives.WriteUInt64LittleEndian(tableOutside.AsSpan(32), 0x7fff_ffff_ffff_fff0);

        Assert.Equal(BootError.InvalidImage, Assert.Throws<BootException>(() => ElfLoader.Load(memory, new MemoryStream(badSize))).Error);
        Assert.Equal(BootError.InvalidImage, Assert.Throws<BootException>(() => ElfLoader.Load(memory, new MemoryStream(hugeCount))).Error);
        Assert.Equal(BootError.Truncated, Assert.Throws<BootException>(() => ElfLoader.Load(memory, new MemoryStream(tableOutside))).Error);
    }

    [Fact]
    public void Non_seekable_stream_should_be_refused_as_an_argument_error()
    {
        using var memory = Ram(32 * MiB);

        Assert.Throws<ArgumentException>(() => ElfLoader.Load(memory, new NonSeekableStream(new MemoryStream(Vmlinux()))));
    }

    [Fact]
    public void Randomly_corrupted_elf_headers_should_only_ever_give_boot_errors()
    {
        using var memory = Ram(32 * MiB);
        var random = new Random(99);
        var outcomes = new HashSet<BootError>();
        for (var round = 0; round < 500; round++)
        {
            var image = Vmlinux();
            for (var k = 0; k < 3; k++)
            {
                image[random.Next(64 + 3 * 56)] = (byte)random.Next(256);
            }

            try
            {
                ElfLoader.Load(memory, new MemoryStream(image));
            }
            catch (BootException ex)
            {
                outcomes.Add(ex.Error);
            }
        }

        Assert.True(outcomes.Count >= 3, $"errors seen: {string.Join(", ", outcomes)}");
    }
}
