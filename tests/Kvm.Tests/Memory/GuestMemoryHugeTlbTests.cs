using ActorVmm.Kvm.Memory;
using Xunit;

namespace ActorVmm.Kvm.Tests.Memory;

public class GuestMemoryHugeTlbTests
{
    private const string Pool2M = "/sys/kernel/mm/hugepages/hugepages-2048kB";

    [Fact]
    public void Huge_page_mappings_should_be_private_anonymous_hugetlb_with_the_size_shift_and_reserved_at_mmap()
    {
        const int mapPrivate = 0x02, mapAnonymous = 0x20, mapNoReserve = 0x4000, mapHugeTlb = 0x40000;

        Assert.Equal(mapPrivate | mapAnonymous | mapHugeTlb | (21 << 26), GuestMemory.HugeTlbMapFlags(HugePages.Size2M));
        Assert.Equal(mapPrivate | mapAnonymous | mapHugeTlb | (30 << 26), GuestMemory.HugeTlbMapFlags(HugePages.Size1G));
        Assert.Equal(0, GuestMemory.HugeTlbMapFlags(HugePages.Size2M) & mapNoReserve);
    }

    [Theory]
    [InlineData("2M", HugePages.Size2M, 2UL << 20)]
    [InlineData("2mib", HugePages.Size2M, 2UL << 20)]
    [InlineData("1G", HugePages.Size1G, 1UL << 30)]
    [InlineData("", HugePages.Off, 0UL)]
    public void Page_sizes_should_parse_from_their_names(string text, HugePages expected, ulong bytes)
    {
        Assert.True(HugePagesExtensions.TryParse(text, out var pages));
        Assert.Equal(expected, pages);
        Assert.Equal(bytes, pages.Bytes());
        Assert.False(HugePagesExtensions.TryParse("4K", out _));
    }

    [Fact]
    public void A_pool_with_enough_unreserved_free_pages_should_pass_the_check()
    {
        var pool = Pool(total: 80, free: 70, reserved: 6);

        pool.Check(HugePages.Size2M, 64UL * (2 << 20));
    }

    [Fact]
    public void A_short_pool_should_be_refused_with_the_numbers_and_the_command_that_grows_it()
    {
        var pool = Pool(total: 20, free: 10, reserved: 4);

        var e = Assert.Throws<GuestMemoryException>(() => pool.Check(HugePages.Size2M, 128UL << 20));

        Assert.Equal(GuestMemoryError.HugePagesUnavailable, e.Error);
        Assert.Equal(
            "huge pages 2M: guest RAM needs 64 pages, the pool has 6 available (20 in all, 10 free, 4 of them reserved); "
            + "grow it as root: echo 78 > /proc/sys/vm/nr_hugepages",
            e.Message);
    }

    [Fact]
    public void A_host_without_a_pool_of_the_size_should_be_refused_naming_the_sysfs_directory()
    {
        var pool = new HugePagePool(_ => null);

        var e = Assert.Throws<GuestMemoryException>(() => pool.Check(HugePages.Size1G, 1UL << 30));

        Assert.Contains("no pool of 1G pages (/sys/kernel/mm/hugepages/hugepages-1048576kB is missing", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_1G_pool_should_be_grown_through_its_sysfs_knob()
    {
        Assert.Equal("echo 3 > /sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages", HugePagePool.GrowCommand(HugePages.Size1G, 3));
    }

    [Fact]
    public void Create_should_check_the_pool_before_mapping_anything()
    {
        var e = Assert.Throws<GuestMemoryException>(() =>
            GuestMemory.Create([(GuestAddress.Zero, 16UL << 20)], HugePages.Size2M, Pool(total: 0, free: 0, reserved: 0)));

        Assert.Equal(GuestMemoryError.HugePagesUnavailable, e.Error);
        Assert.Contains("needs 8 pages, the pool has 0 available", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_region_not_aligned_to_the_page_size_should_be_refused_before_the_pool_is_read()
    {
        var read = false;
        var pool = new HugePagePool(_ =>
        {
            read = true;
            return "1000";
        });

        var e = Assert.Throws<GuestMemoryException>(() =>
            GuestMemory.Create([(GuestAddress.Zero, 3UL << 30), (new GuestAddress(4UL << 30), 512UL << 20)], HugePages.Size1G, pool));

        Assert.Equal(GuestMemoryError.InvalidRegion, e.Error);
        Assert.Contains("huge pages 1G: the guest RAM region at 0x100000000 of 0x20000000 bytes is not a multiple of 1G", e.Message, StringComparison.Ordinal);
        Assert.False(read);
    }

    [Fact]
    public void A_reservation_the_kernel_refuses_should_be_one_line_naming_the_pool()
    {
        // The check is told there is room; this host's real 2M pool has none, so the real mmap fails with ENOMEM.
        Assert.SkipUnless(File.Exists($"{Pool2M}/free_hugepages") && File.ReadAllText($"{Pool2M}/free_hugepages").Trim() == "0",
            "needs a host whose 2M huge page pool is empty");

        var e = Assert.Throws<GuestMemoryException>(() =>
            GuestMemory.Create([(GuestAddress.Zero, 16UL << 20)], HugePages.Size2M, Pool(total: 100, free: 100, reserved: 0)));

        Assert.Equal(GuestMemoryError.HugePagesUnavailable, e.Error);
        Assert.StartsWith("huge pages 2M: the kernel could not reserve 8 pages for guest RAM at", e.Message, StringComparison.Ordinal);
        Assert.Contains("ENOMEM", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void A_short_real_pool_should_be_refused_before_mapping()
    {
        Assert.SkipUnless(File.Exists($"{Pool2M}/free_hugepages") && File.ReadAllText($"{Pool2M}/free_hugepages").Trim() == "0",
            "needs a host whose 2M huge page pool is empty");

        var e = Assert.Throws<GuestMemoryException>(() => GuestMemory.Create([(GuestAddress.Zero, 16UL << 20)], HugePages.Size2M));

        Assert.Contains("guest RAM needs 8 pages, the pool has 0 available", e.Message, StringComparison.Ordinal);
    }

    private static HugePagePool Pool(ulong total, ulong free, ulong reserved) => new(path => Path.GetFileName(path) switch
    {
        "nr_hugepages" when path.StartsWith(Pool2M, StringComparison.Ordinal) => $"{total}\n",
        "free_hugepages" when path.StartsWith(Pool2M, StringComparison.Ordinal) => $"{free}\n",
        "resv_hugepages" when path.StartsWith(Pool2M, StringComparison.Ordinal) => $"{reserved}\n",
        _ => null,
    });
}
