using ActorVmm.Kvm.Boot;
using ActorVmm.Kvm.Memory;
using Xunit;
using static ActorVmm.Kvm.Tests.Boot.TestImages;

namespace ActorVmm.Kvm.Tests.Boot;

public sealed class LinuxBootTests
{
    [Fact]
    public void Kernel_loader_should_pick_the_format_by_magic()
    {
        using var memory = Ram(32 * MiB);
        var elf = Elf(0x100_0000, [new Segment(1, 0x1000, 0x100_0000, 0x1000, 0x1000)]);

        Assert.Equal(KernelImageKind.Elf, KernelLoader.Load(memory, new MemoryStream(elf)).Kind);
        Assert.Equal(KernelImageKind.BzImage, KernelLoader.Load(memory, new MemoryStream(BzImage())).Kind);
        Assert.Equal(BootError.BadMagic, Assert.Throws<BootException>(() =>
            KernelLoader.Load(memory, new MemoryStream(new byte[4096]))).Error);
        Assert.Equal(BootError.Truncated, Assert.Throws<BootException>(() =>
            KernelLoader.Load(memory, new MemoryStream(new byte[3]))).Error);
    }

    [Fact]
    public void Prepare_should_set_up_the_debian_kernel_initrd_zero_page_mp_table_and_boot_cpu()
    {
        var ram = Layout.ArchMemoryRegions(256 * MiB);
        using var memory = GuestMemory.Create(ram);
        var initrdPath = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(initrdPath, Enumerable.Range(0, 100_000).Select(i => (byte)i).ToArray());

            var boot = LinuxBoot.Prepare(memory, ram, DebianKernel, initrdPath, "console=ttyS0 reboot=k panic=-1", 2);

            Assert.Equal(KernelImageKind.BzImage, boot.Kernel.Kind);
            Assert.NotNull(boot.Initrd);
            Assert.True(boot.Initrd.Address >= boot.Kernel.End);
            Assert.True(boot.Initrd.Address.Value + boot.Initrd.Size <= 256 * MiB);
            var zeroPage = memory.Read<BootParams>(new GuestAddress(Layout.ZeroPageStart));
            Assert.Equal((uint)boot.Initrd.Address.Value, zeroPage.Hdr.RamdiskImage);
            Assert.Equal(100_000u, zeroPage.Hdr.RamdiskSize);
            Assert.Equal(boot.Kernel.SetupHeader.Version, zeroPage.Hdr.Version);
            Assert.Equal(0x5f504d5fu, memory.Read<uint>(new GuestAddress(Layout.MpTableStart))); // "_MP_"
            Assert.Equal(Layout.KernelLoadAddress + 0x200, boot.BootCpu.Rip);
            Assert.Equal(Layout.ZeroPageStart, boot.BootCpu.Rsi);
        }
        finally
        {
            File.Delete(initrdPath);
        }
    }

    [Fact]
    public void Prepare_should_report_a_missing_initrd_as_unreadable()
    {
        var ram = Layout.ArchMemoryRegions(256 * MiB);
        using var memory = GuestMemory.Create(ram);

        Assert.Equal(BootError.FileUnreadable, Assert.Throws<BootException>(() =>
            LinuxBoot.Prepare(memory, ram, DebianKernel, "/nonexistent/initrd", "", 1)).Error);
    }
}
