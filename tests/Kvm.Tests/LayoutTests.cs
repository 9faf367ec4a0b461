using ActorVmm.Kvm.Memory;
using Xunit;

namespace ActorVmm.Kvm.Tests;

public sealed class LayoutTests
{
    private const ulong GiB = 1024UL * 1024 * 1024;

    [Fact]
    public void Small_guest_should_be_one_region_from_zero()
    {
        Assert.Equal([(GuestAddress.Zero, 128UL * 1024 * 1024)], Layout.ArchMemoryRegions(128UL * 1024 * 1024));
    }

    [Fact]
    public void Guest_exactly_the_size_below_the_gap_should_be_one_region()
    {
        Assert.Equal([(GuestAddress.Zero, Layout.MmioGapStart)], Layout.ArchMemoryRegions(Layout.MmioGapStart));
    }

    [Fact]
    public void Guest_larger_than_the_space_below_the_gap_should_continue_at_4_GiB()
    {
        Assert.Equal(
            [(GuestAddress.Zero, Layout.MmioGapStart), (new GuestAddress(4 * GiB), 16 * GiB - Layout.MmioGapStart)],
            Layout.ArchMemoryRegions(16 * GiB));
        Assert.Equal(
            [(GuestAddress.Zero, Layout.MmioGapStart), (new GuestAddress(4 * GiB), 4096UL)],
            Layout.ArchMemoryRegions(Layout.MmioGapStart + 4096));
    }

    [Theory]
    [InlineData(0UL)]
    [InlineData(4095UL)]
    [InlineData(0x1000_0001UL)]
    [InlineData(ulong.MaxValue & ~0xfffUL)]
    public void Zero_unaligned_or_absurd_sizes_should_be_refused(ulong size)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Layout.ArchMemoryRegions(size));
    }

    [Fact]
    public void Boot_structures_in_low_memory_should_not_overlap()
    {
        (ulong Start, ulong Size)[] areas =
        [
            (Layout.GdtStart, 4 * 8),
            (Layout.IdtStart, 8),
            (Layout.ZeroPageStart, 4096),
            (Layout.BootStackPointer - 0x100, 0x100),
            (Layout.Pml4Start, 4096),
            (Layout.PdpteStart, 4096),
            (Layout.PdeStart, 4096),
            (Layout.CmdlineStart, Layout.CmdlineMaxSize),
            (Layout.MpTableStart, Layout.MpTableEnd - Layout.MpTableStart),
        ];

        for (var i = 0; i < areas.Length; i++)
        {
            Assert.True(areas[i].Start + areas[i].Size <= Layout.HighMemoryStart, $"area {i} must lie below 1 MiB");
            for (var j = i + 1; j < areas.Length; j++)
            {
                var overlap = areas[i].Start < areas[j].Start + areas[j].Size && areas[j].Start < areas[i].Start + areas[i].Size;
                Assert.False(overlap, $"areas {i} and {j} overlap");
            }
        }
    }

    [Fact]
    public void Platform_devices_and_kvm_pages_should_lie_in_the_gap_above_the_pci_window()
    {
        var pciEnd = Layout.PciMmio32Start + Layout.PciMmio32Size;
        Assert.True(Layout.PciMmio32Start >= Layout.MmioGapStart);
        foreach (var address in new[] { Layout.IoApicStart, Layout.LapicStart, Layout.KvmIdentityMapAddress, Layout.KvmTssAddress })
        {
            Assert.InRange(address, pciEnd, Layout.MmioGapEnd - 1);
        }

        Assert.Equal(Layout.KvmIdentityMapAddress + 0x1000, Layout.KvmTssAddress);
        Assert.True(Layout.KvmTssAddress + Layout.KvmTssSize <= Layout.MmioGapEnd);
        Assert.True(Layout.IoApicStart + Layout.IoApicSize <= Layout.LapicStart);
    }

    [Fact]
    public void Gsi_ranges_should_follow_each_other_isa_then_pci_then_msi()
    {
        Assert.Equal(Layout.IsaIrqCount, Layout.FirstPciGsi);
        Assert.Equal(Layout.IoApicPinCount, Layout.FirstPciGsi + Layout.PciGsiCount);
        Assert.Equal(Layout.IoApicPinCount, Layout.FirstMsiGsi);
        Assert.All(new[] { Layout.KeyboardIrq, Layout.Com1Irq, Layout.Com2Irq }, irq => Assert.InRange(irq, 0u, Layout.IsaIrqCount - 1));
    }

    [Fact]
    public void Msi_window_should_hold_the_local_apic()
    {
        Assert.InRange(Layout.LapicStart, Layout.MsiWindowStart, Layout.MsiWindowStart + Layout.MsiWindowSize - 1);
        Assert.InRange(Layout.MsiWindowStart, Layout.PciMmio32Start + Layout.PciMmio32Size, Layout.MmioGapEnd - Layout.MsiWindowSize);
    }

    [Fact]
    public void Virtio_mmio_windows_should_lie_below_the_io_apic_above_the_pci_window()
    {
        var last = Layout.VirtioMmioWindow(Layout.VirtioMmioMaxDevices - 1);

        Assert.Equal(Layout.VirtioMmioStart + Layout.VirtioMmioSize, Layout.VirtioMmioWindow(1));
        Assert.True(Layout.VirtioMmioStart >= Layout.PciMmio32Start + Layout.PciMmio32Size);
        Assert.True(last + Layout.VirtioMmioSize <= Layout.IoApicStart);
    }

    [Theory]
    [InlineData(0, 0, 23u)]
    [InlineData(1, 0, 22u)]
    [InlineData(8, 0, 23u)]
    [InlineData(0, 3, 23u)]
    [InlineData(4, 3, 19u)]
    [InlineData(5, 3, 23u)]
    [InlineData(2, 7, 23u)]
    public void Virtio_mmio_gsis_should_be_the_pci_inputs_no_pci_function_takes(int index, int pciDevices, uint expected)
    {
        var gsi = Layout.VirtioMmioGsi(index, pciDevices);

        Assert.Equal(expected, gsi);
        Assert.True(gsi >= Layout.FirstPciGsi + (uint)pciDevices);
    }

    [Fact]
    public void Virtio_mmio_should_have_no_gsi_when_pci_takes_all_eight()
    {
        Assert.Null(Layout.VirtioMmioGsi(0, (int)Layout.PciGsiCount));
        Assert.Null(Layout.VirtioMmioGsi(0, 20));
    }
}
