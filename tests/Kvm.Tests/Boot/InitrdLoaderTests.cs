using ActorVmm.Kvm.Boot;
using ActorVmm.Kvm.Memory;
using Xunit;
using static ActorVmm.Kvm.Tests.Boot.TestImages;

namespace ActorVmm.Kvm.Tests.Boot;

public sealed class InitrdLoaderTests
{
    private static KernelLoadResult LoadKernel(GuestMemory memory, uint initrdAddrMax = 0x7fff_ffff) =>
        BzImageLoader.Load(memory, new MemoryStream(BzImage(initrdAddrMax: initrdAddrMax)));

    private static byte[] Pattern(int size) => Enumerable.Range(0, size).Select(i => (byte)(i * 31 + 5)).ToArray();

    [Fact]
    public void Initrd_should_be_placed_page_aligned_at_the_top_of_low_ram()
    {
        using var memory = Ram(64 * MiB);
        var kernel = LoadKernel(memory);
        var initrd = Pattern(10_000);

        var result = InitrdLoader.Load(memory, new MemoryStream(initrd), kernel);

        Assert.Equal(0UL, result.Address.Value % 4096);
        Assert.Equal(10_000UL, result.Size);
        Assert.True(result.Address.Value + result.Size <= 64 * MiB);
        Assert.True(result.Address.Value + result.Size > 64 * MiB - 4096, $"initrd at {result.Address} is not at the top");
        Assert.True(result.Address >= kernel.End);
        var back = new byte[initrd.Length];
        memory.Read(result.Address, back);
        Assert.Equal(initrd, back);
    }

    [Fact]
    public void Initrd_should_end_below_initrd_addr_max()
    {
        using var memory = Ram(64 * MiB);
        var kernel = LoadKernel(memory, initrdAddrMax: 0x2ff_ffff);

        var result = InitrdLoader.Load(memory, new MemoryStream(Pattern(8192)), kernel);

        Assert.Equal(new GuestAddress(0x300_0000 - 8192), result.Address);
    }

    [Fact]
    public void Initrd_should_stay_below_the_mmio_gap_when_ram_continues_above_4_GiB()
    {
        using var memory = Ram(0x1_4000_0000); // 5 GiB: 3 GiB low, 2 GiB high
        var kernel = LoadKernel(memory, initrdAddrMax: 0xffff_ffff);

        var result = InitrdLoader.Load(memory, new MemoryStream(Pattern(4096 * 3 + 1)), kernel);

        Assert.True(result.Address.Value + result.Size <= Layout.MmioGapStart);
        Assert.Equal(Layout.MmioGapStart - 4 * 4096, result.Address.Value);
    }

    [Fact]
    public void Initrd_from_a_non_seekable_stream_should_load()
    {
        using var memory = Ram(64 * MiB);
        var kernel = LoadKernel(memory);
        var initrd = Pattern(100_000);

        var result = InitrdLoader.Load(memory, new NonSeekableStream(new MemoryStream(initrd)), kernel);

        var back = new byte[initrd.Length];
        memory.Read(result.Address, back);
        Assert.Equal(initrd, back);
    }

    [Fact]
    public void Initrd_larger_than_the_space_above_the_kernel_should_be_refused()
    {
        using var memory = Ram(32 * MiB);
        var kernel = LoadKernel(memory); // ends at 17 MiB
        var tooBig = new byte[15 * MiB + 1];

        Assert.Equal(BootError.InitrdDoesNotFit, Assert.Throws<BootException>(() =>
            InitrdLoader.Load(memory, new MemoryStream(tooBig), kernel)).Error);
        Assert.Equal(BootError.InitrdDoesNotFit, Assert.Throws<BootException>(() =>
            InitrdLoader.Load(memory, new NonSeekableStream(new MemoryStream(tooBig)), kernel)).Error);
    }

    [Fact]
    public void Initrd_that_exactly_fills_the_space_above_the_kernel_should_load()
    {
        using var memory = Ram(32 * MiB);
        var kernel = LoadKernel(memory);

        var result = InitrdLoader.Load(memory, new MemoryStream(new byte[15 * MiB]), kernel);

        Assert.Equal(kernel.End, result.Address);
    }

    [Fact]
    public void Initrd_below_a_kernel_whose_initrd_addr_max_is_under_the_kernel_should_be_refused()
    {
        using var memory = Ram(64 * MiB);
        var kernel = LoadKernel(memory, initrdAddrMax: 0x80_0000);

        Assert.Equal(BootError.InitrdDoesNotFit, Assert.Throws<BootException>(() =>
            InitrdLoader.Load(memory, new MemoryStream(Pattern(10)), kernel)).Error);
    }

    [Fact]
    public void Empty_initrd_should_be_refused()
    {
        using var memory = Ram(32 * MiB);
        var kernel = LoadKernel(memory);

        Assert.Equal(BootError.InvalidImage, Assert.Throws<BootException>(() =>
            InitrdLoader.Load(memory, new MemoryStream(), kernel)).Error);
    }

    [Fact]
    public void Missing_initrd_file_should_be_refused_as_unreadable()
    {
        using var memory = Ram(32 * MiB);
        var kernel = LoadKernel(memory);

        Assert.Equal(BootError.FileUnreadable, Assert.Throws<BootException>(() =>
            InitrdLoader.Load(memory, "/nonexistent/initrd.gz", kernel)).Error);
    }
}
