using ActorVmm.Kvm.Boot;
using ActorVmm.Kvm.Memory;
using Xunit;
using static ActorVmm.Kvm.Tests.Boot.TestImages;

namespace ActorVmm.Kvm.Tests.Boot;

public sealed class BzImageLoaderTests
{
    [Fact]
    public void Debian_bzImage_header_should_parse_with_a_modern_64_bit_relocatable_protocol()
    {
        Assert.True(File.Exists(DebianKernel), $"{DebianKernel} is required (package linux-image-6.1.0-56-amd64-unsigned)");
        using var memory = Ram(256 * MiB);

        var kernel = BzImageLoader.Load(memory, DebianKernel);

        var hdr = kernel.SetupHeader;
        Assert.Equal(KernelImageKind.BzImage, kernel.Kind);
        Assert.True(kernel.ProtocolVersion >= 0x020f, $"protocol 0x{kernel.ProtocolVersion:x}");
        Assert.Equal(SetupHeader.HeaderMagic, hdr.Header);
        Assert.Equal(SetupHeader.BootFlagMagic, hdr.BootFlag);
        Assert.NotEqual(0, hdr.RelocatableKernel);
        Assert.NotEqual(0, hdr.XLoadFlags & SetupHeader.XlfKernel64);
        Assert.NotEqual(0, hdr.LoadFlags & SetupHeader.LoadedHigh);
        Assert.Equal(2047u, hdr.CmdlineSize);
        Assert.NotEqual(0u, hdr.InitSize);
        Assert.NotEqual(0u, hdr.InitrdAddrMax);
        Assert.Equal(0x100_0000UL, hdr.PrefAddress);
        Assert.Equal(2048UL, kernel.CommandLineMaxSize);
        Assert.Equal((ulong)hdr.InitrdAddrMax, kernel.InitrdAddressMax);
        Assert.Equal(new GuestAddress(Layout.KernelLoadAddress), kernel.LoadAddress);
        Assert.Equal(new GuestAddress(Layout.KernelLoadAddress + 0x200), kernel.EntryPoint);
        Assert.True(kernel.End.Value >= hdr.PrefAddress + hdr.InitSize, $"end {kernel.End}");
    }

    [Fact]
    public void Debian_bzImage_protected_mode_kernel_should_be_copied_to_1_MiB()
    {
        using var memory = Ram(256 * MiB);
        var file = File.ReadAllBytes(DebianKernel);

        var kernel = BzImageLoader.Load(memory, new MemoryStream(file));

        var setupSize = (kernel.SetupHeader.SetupSects + 1) * 512;
        Assert.Equal((ulong)(file.Length - setupSize), kernel.LoadedSize);
        var head = new byte[4096];
        memory.Read(kernel.LoadAddress, head);
        Assert.Equal(file.AsSpan(setupSize, 4096).ToArray(), head);
        var tail = new byte[4096];
        memory.Read(kernel.LoadAddress.CheckedAdd(kernel.LoadedSize - 4096), tail);
        Assert.Equal(file.AsSpan(file.Length - 4096).ToArray(), tail);
    }

    [Fact]
    public void Debian_bzImage_should_not_fit_in_a_guest_smaller_than_its_decompression_footprint()
    {
        using var memory = Ram(64 * MiB);

        var ex = Assert.Throws<BootException>(() => BzImageLoader.Load(memory, DebianKernel));

        Assert.Equal(BootError.KernelDoesNotFit, ex.Error);
    }

    [Fact]
    public void Synthetic_bzImage_should_load_from_a_non_seekable_stream()
    {
        using var memory = Ram(32 * MiB);
        var image = BzImage(payloadSize: 0x3000);

        var kernel = BzImageLoader.Load(memory, new NonSeekableStream(new MemoryStream(image)));

        Assert.Equal(0x3000UL, kernel.LoadedSize);
        var loaded = new byte[0x3000];
        memory.Read(new GuestAddress(0x10_0000), loaded);
        Assert.Equal(image.AsSpan(5 * 512).ToArray(), loaded);
        Assert.Equal(new GuestAddress(0x110_0000), kernel.End);
    }

    [Fact]
    public void Setup_sects_zero_should_mean_four_sectors()
    {
        using var memory = Ram(32 * MiB);
        var image = BzImage(setupSects: 0);

        var kernel = BzImageLoader.Load(memory, new MemoryStream(image));

        Assert.Equal(4, kernel.SetupHeader.EffectiveSetupSects);
        Assert.Equal(image[5 * 512], memory.Read<byte>(new GuestAddress(0x10_0000)));
    }

    [Fact]
    public void Bad_magic_should_be_refused()
    {
        using var memory = Ram(32 * MiB);
        var image = BzImage();
        image[0x202] = (byte)'X';

        var ex = Assert.Throws<BootException>(() => BzImageLoader.Load(memory, new MemoryStream(image)));

        Assert.Equal(BootError.BadMagic, ex.Error);
    }

    [Fact]
    public void Missing_boot_flag_should_be_refused_as_bad_magic()
    {
        using var memory = Ram(32 * MiB);
        var image = BzImage();
        image[0x1fe] = 0;

        Assert.Equal(BootError.BadMagic,
            Assert.Throws<BootException>(() => BzImageLoader.Load(memory, new MemoryStream(image))).Error);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(100)]
    [InlineData(0x205)]
    [InlineData(0x210)]
    [InlineData(0x250)]
    [InlineData(0x600)] // inside the setup sectors
    [InlineData(5 * 512)] // setup complete, no kernel
    [InlineData(5 * 512 + 0x1000)] // half the protected-mode kernel
    [InlineData(5 * 512 + 0x2000 - 1)] // one byte short
    public void Truncated_image_should_be_refused(int length)
    {
        using var memory = Ram(32 * MiB);
        var image = BzImage(payloadSize: 0x2000).AsSpan(0, length).ToArray();

        var ex = Assert.Throws<BootException>(() => BzImageLoader.Load(memory, new MemoryStream(image)));

        Assert.Equal(BootError.Truncated, ex.Error);
    }

    [Theory]
    [InlineData(0x0205)]
    [InlineData(0x0200)]
    [InlineData(0x0001)]
    public void Protocol_older_than_2_06_should_be_refused(ushort version)
    {
        using var memory = Ram(32 * MiB);

        var ex = Assert.Throws<BootException>(() =>
            BzImageLoader.Load(memory, new MemoryStream(BzImage(version: version))));

        Assert.Equal(BootError.ProtocolTooOld, ex.Error);
        Assert.Contains("2.06", ex.Message);
    }

    [Fact]
    public void Absurd_setup_sects_should_be_refused_as_truncated()
    {
        using var memory = Ram(32 * MiB);
        var image = BzImage(payloadSize: 0x2000);
        image[0x1f1] = 255;

        var ex = Assert.Throws<BootException>(() => BzImageLoader.Load(memory, new MemoryStream(image)));

        Assert.Equal(BootError.Truncated, ex.Error);
    }

    [Fact]
    public void Kernel_without_64_bit_entry_should_be_refused()
    {
        using var memory = Ram(32 * MiB);

        Assert.Equal(BootError.Unsupported, Assert.Throws<BootException>(() =>
            BzImageLoader.Load(memory, new MemoryStream(BzImage(xloadflags: 0)))).Error);
        Assert.Equal(BootError.Unsupported, Assert.Throws<BootException>(() =>
            BzImageLoader.Load(memory, new MemoryStream(BzImage(version: 0x020a)))).Error);
    }

    [Fact]
    public void zImage_without_LOADED_HIGH_should_be_refused()
    {
        using var memory = Ram(32 * MiB);

        Assert.Equal(BootError.Unsupported, Assert.Throws<BootException>(() =>
            BzImageLoader.Load(memory, new MemoryStream(BzImage(loadflags: 0)))).Error);
    }

    [Fact]
    public void Init_size_beyond_guest_ram_should_be_refused_before_loading()
    {
        using var memory = Ram(32 * MiB);

        var ex = Assert.Throws<BootException>(() =>
            BzImageLoader.Load(memory, new MemoryStream(BzImage(initSize: 0x1000_0000))));

        Assert.Equal(BootError.KernelDoesNotFit, ex.Error);
        Assert.Equal(0, memory.Read<byte>(new GuestAddress(0x10_0000)));
    }

    [Fact]
    public void Absurd_syssize_should_be_refused_as_not_fitting()
    {
        using var memory = Ram(32 * MiB);
        var image = BzImage();
        BitConverter.TryWriteBytes(image.AsSpan(0x1f4), uint.MaxValue);

        Assert.Equal(BootError.KernelDoesNotFit, Assert.Throws<BootException>(() =>
            BzImageLoader.Load(memory, new MemoryStream(image))).Error);
    }

    [Fact]
    public void Kernel_larger_than_guest_ram_should_be_refused()
    {
        using var memory = GuestMemory.Create([(GuestAddress.Zero, 0x10_8000)]);
        var image = BzImage(payloadSize: 0x1_0000, initSize: 0, prefAddress: 0);

        Assert.Equal(BootError.KernelDoesNotFit, Assert.Throws<BootException>(() =>
            BzImageLoader.Load(memory, new MemoryStream(image))).Error);
    }

    [Fact]
    public void Relocatable_kernel_with_non_power_of_two_alignment_should_be_refused()
    {
        using var memory = Ram(32 * MiB);

        Assert.Equal(BootError.InvalidImage, Assert.Throws<BootException>(() =>
            BzImageLoader.Load(memory, new MemoryStream(BzImage(kernelAlignment: 0x30_0000)))).Error);
    }

    [Fact]
    public void Header_ending_before_cmdline_size_should_be_refused()
    {
        using var memory = Ram(32 * MiB);
        var image = BzImage();
        image[0x201] = 0x10;

        Assert.Equal(BootError.InvalidImage, Assert.Throws<BootException>(() =>
            BzImageLoader.Load(memory, new MemoryStream(image))).Error);
    }

    [Fact]
    public void Missing_file_should_be_refused_as_unreadable()
    {
        using var memory = Ram(32 * MiB);

        var ex = Assert.Throws<BootException>(() => BzImageLoader.Load(memory, "/nonexistent/bzImage"));

        Assert.Equal(BootError.FileUnreadable, ex.Error);
        Assert.Contains("/nonexistent/bzImage", ex.Message);
    }

    [Fact]
    public void Read_error_should_be_reported_as_unreadable()
    {
        using var memory = Ram(32 * MiB);

        Assert.Equal(BootError.FileUnreadable, Assert.Throws<BootException>(() =>
            BzImageLoader.Load(memory, new FailingStream(100))).Error);
    }

    [Fact]
    public void Randomly_corrupted_headers_should_only_ever_give_boot_errors()
    {
        using var memory = Ram(32 * MiB);
        var random = new Random(1234);
        var outcomes = new HashSet<BootError>();
        var loaded = 0;
        for (var round = 0; round < 500; round++)
        {
            var image = BzImage();
            for (var k = 0; k < 4; k++)
            {
                image[0x1f1 + random.Next(SetupHeader.Size)] = (byte)random.Next(256);
            }

            if (round % 5 == 0)
            {
                image = image.AsSpan(0, random.Next(image.Length)).ToArray();
            }

            try
            {
                BzImageLoader.Load(memory, new MemoryStream(image));
                loaded++;
            }
            catch (BootException ex)
            {
                outcomes.Add(ex.Error);
            }
        }

        Assert.True(loaded > 0, "some corruptions hit unused header bytes and still load");
        Assert.True(outcomes.Count >= 3, $"errors seen: {string.Join(", ", outcomes)}");
    }
}
