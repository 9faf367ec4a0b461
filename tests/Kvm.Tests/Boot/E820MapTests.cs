using ActorVmm.Kvm.Boot;
using ActorVmm.Kvm.Memory;
using Xunit;

namespace ActorVmm.Kvm.Tests.Boot;

public sealed class E820MapTests
{
    private const ulong MiB = 1024 * 1024;
    private const ulong GiB = 1024 * MiB;

    private static (ulong Addr, ulong Size, E820Type Type)[] Map(ulong memorySize) =>
        E820Map.Build(Layout.ArchMemoryRegions(memorySize)).Select(e => (e.Addr, e.Size, e.Type)).ToArray();

    [Fact]
    public void Ram_below_the_gap_should_give_low_ram_reserved_bios_area_and_high_ram()
    {
        Assert.Equal(
            [
                (0UL, 0x9fc00UL, E820Type.Ram),
                (0x9fc00UL, 0x100000UL - 0x9fc00, E820Type.Reserved),
                (0x100000UL, 256 * MiB - 0x100000, E820Type.Ram),
            ],
            Map(256 * MiB));
    }

    [Fact]
    public void Ram_exactly_up_to_the_gap_should_end_at_the_gap()
    {
        var map = Map(3 * GiB);

        Assert.Equal(3, map.Length);
        Assert.Equal((0x100000UL, Layout.MmioGapStart - 0x100000, E820Type.Ram), map[2]);
    }

    [Fact]
    public void Ram_across_the_gap_should_continue_at_4_GiB()
    {
        var map = Map(4 * GiB);

        Assert.Equal(4, map.Length);
        Assert.Equal((0x100000UL, Layout.MmioGapStart - 0x100000, E820Type.Ram), map[2]);
        Assert.Equal((4 * GiB, 1 * GiB, E820Type.Ram), map[3]);
        Assert.DoesNotContain(map, e => e.Addr < Layout.MmioGapEnd && e.Addr + e.Size > Layout.MmioGapStart);
        Assert.Equal(4 * GiB, map.Where(e => e.Type == E820Type.Ram).Aggregate(0UL, (s, e) => s + e.Size) + (0x100000 - 0x9fc00));
    }

    [Fact]
    public void Ram_only_above_4_GiB_should_be_one_entry()
    {
        var map = E820Map.Build([(new GuestAddress(8 * GiB), 2 * GiB)]);

        Assert.Equal([new E820Entry(8 * GiB, 2 * GiB, E820Type.Ram)], map);
    }

    [Fact]
    public void Tiny_ram_below_the_ebda_should_have_no_reserved_entry()
    {
        var map = E820Map.Build([(GuestAddress.Zero, 0x8_0000)]);

        Assert.Equal([new E820Entry(0, 0x8_0000, E820Type.Ram)], map);
    }

    [Fact]
    public void Adjacent_regions_should_merge()
    {
        var map = E820Map.Build([(new GuestAddress(0x100000), 0x100000), (new GuestAddress(0x200000), 0x100000)]);

        Assert.Equal([new E820Entry(0x100000, 0x200000, E820Type.Ram)], map);
    }

    [Fact]
    public void Ram_inside_the_mmio_gap_should_be_refused()
    {
        Assert.Throws<ArgumentException>(() => E820Map.Build([(GuestAddress.Zero, 3 * GiB + 4096)]));
        Assert.Throws<ArgumentException>(() => E820Map.Build([(new GuestAddress(0xFEC0_0000), 4096)]));
    }

    [Fact]
    public void More_regions_than_the_zero_page_holds_should_be_refused()
    {
        var regions = Enumerable.Range(0, 130).Select(i => (new GuestAddress(4 * GiB + (ulong)i * 2 * 4096), 4096UL)).ToList();

        Assert.Equal(BootError.TableDoesNotFit, Assert.Throws<BootException>(() => E820Map.Build(regions)).Error);
    }
}
