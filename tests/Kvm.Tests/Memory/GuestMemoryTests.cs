using ActorVmm.Kvm.Memory;
using Xunit;

namespace ActorVmm.Kvm.Tests.Memory;

public class GuestMemoryTests
{
    private const ulong Page = GuestMemory.PageSize;

    private static GuestMemory TwoAdjacentRegions() =>
        GuestMemory.Create([(new GuestAddress(0), 2 * Page), (new GuestAddress(2 * Page), Page)]);

    [Fact]
    public void Writes_should_be_read_back()
    {
        using var mem = GuestMemory.Create([(new GuestAddress(0x10000), 4 * Page)]);

        mem.Write(new GuestAddress(0x10010), 0x1122334455667788UL);

        Assert.Equal(0x1122334455667788UL, mem.Read<ulong>(new GuestAddress(0x10010)));
        Assert.Equal((byte)0x88, mem.Read<byte>(new GuestAddress(0x10010)));
    }

    [Fact]
    public void Access_spanning_adjacent_regions_should_succeed()
    {
        using var mem = TwoAdjacentRegions();
        var data = Enumerable.Range(0, 16).Select(i => (byte)i).ToArray();
        var at = new GuestAddress((2 * Page) - 8);

        mem.Write(at, data);
        var back = new byte[16];
        mem.Read(at, back);

        Assert.Equal(data, back);
        Assert.Equal(2, mem.Regions.Count);
        Assert.True(mem.IsValidRange(at, 16));
    }

    [Theory]
    [InlineData(3 * Page, 1)]
    [InlineData((3 * Page) - 1, 2)]
    [InlineData(ulong.MaxValue, 1)]
    [InlineData(ulong.MaxValue - 3, 8)]
    [InlineData(0x4000_0000UL, 4)]
    public void Out_of_range_access_should_throw_GuestMemoryException(ulong address, int length)
    {
        using var mem = TwoAdjacentRegions();
        var buffer = new byte[length];

        Assert.Throws<GuestMemoryException>(() => mem.Read(new GuestAddress(address), buffer));
        Assert.Throws<GuestMemoryException>(() => mem.Write(new GuestAddress(address), buffer));
        Assert.False(mem.TryRead(new GuestAddress(address), buffer));
        Assert.False(mem.IsValidRange(new GuestAddress(address), (ulong)length));
    }

    [Fact]
    public void Access_into_a_hole_between_regions_should_throw()
    {
        using var mem = GuestMemory.Create([(new GuestAddress(0), Page), (new GuestAddress(2 * Page), Page)]);

        var e = Assert.Throws<GuestMemoryException>(() => mem.Read<uint>(new GuestAddress(Page - 2)));

        Assert.Equal(GuestMemoryError.OutOfRange, e.Error);
    }

    [Fact]
    public void GetSpan_should_refuse_ranges_crossing_a_region_end_or_negative_lengths()
    {
        using var mem = TwoAdjacentRegions();

        Assert.Equal(16, mem.GetSpan(new GuestAddress(16), 16).Length);
        Assert.Throws<GuestMemoryException>(() => mem.GetSpan(new GuestAddress((2 * Page) - 4), 8));
        Assert.Throws<GuestMemoryException>(() => mem.GetSpan(new GuestAddress(0), -1));
        Assert.Throws<GuestMemoryException>(() => mem.GetSpan(new GuestAddress(ulong.MaxValue), 1));
    }

    [Fact]
    public void GetMemory_should_refuse_what_GetSpan_refuses_and_carry_vectored_file_io_into_guest_ram()
    {
        using var mem = TwoAdjacentRegions();
        Assert.Throws<GuestMemoryException>(() => mem.GetMemory(new GuestAddress((2 * Page) - 4), 8));
        Assert.Throws<GuestMemoryException>(() => mem.GetMemory(new GuestAddress(0), -1));
        Assert.Throws<GuestMemoryException>(() => mem.GetMemory(new GuestAddress(ulong.MaxValue), 1));
        var path = Path.GetTempFileName();
        try
        {
            using var file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
            RandomAccess.Write(file, "abcdefgh"u8, 0);

            // preadv into two guest buffers, one on each side of the region boundary.
            var read = RandomAccess.Read(file, [mem.GetMemory(new GuestAddress((2 * Page) - 3), 3), mem.GetMemory(new GuestAddress(2 * Page), 5)], 0);

            Assert.Equal(8, read);
            var back = new byte[8];
            mem.Read(new GuestAddress((2 * Page) - 3), back);
            Assert.Equal("abcdefgh"u8.ToArray(), back);

            // pwritev from guest RAM.
            mem.Write(new GuestAddress(0x40), "XY"u8);
            RandomAccess.Write(file, [(ReadOnlyMemory<byte>)mem.GetMemory(new GuestAddress(0x40), 2)], 6);
            var tail = new byte[2];
            RandomAccess.Read(file, tail, 6);
            Assert.Equal("XY"u8.ToArray(), tail);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Volatile_u16_helpers_should_round_trip_and_refuse_misalignment_and_range()
    {
        using var mem = TwoAdjacentRegions();

        mem.StoreReleaseU16(new GuestAddress(0x102), 0xbeef);

        Assert.Equal(0xbeef, mem.LoadAcquireU16(new GuestAddress(0x102)));
        Assert.Equal((ushort)0xbeef, mem.Read<ushort>(new GuestAddress(0x102)));
        Assert.Throws<GuestMemoryException>(() => mem.LoadAcquireU16(new GuestAddress(0x101)));
        Assert.Throws<GuestMemoryException>(() => mem.StoreReleaseU16(new GuestAddress(3 * Page), 1));
        Assert.Throws<GuestMemoryException>(() => mem.LoadAcquireU16(new GuestAddress(ulong.MaxValue - 1)));
    }

    [Fact]
    public void Create_should_reject_overlapping_regions()
    {
        var e = Assert.Throws<GuestMemoryException>(() =>
            GuestMemory.Create([(new GuestAddress(0), 2 * Page), (new GuestAddress(Page), Page)]));

        Assert.Equal(GuestMemoryError.InvalidRegion, e.Error);
    }

    [Theory]
    [InlineData(0x800UL, Page)]
    [InlineData(0UL, 0x800UL)]
    [InlineData(0UL, 0UL)]
    public void Create_should_reject_unaligned_or_empty_regions(ulong start, ulong size)
    {
        var e = Assert.Throws<GuestMemoryException>(() => GuestMemory.Create([(new GuestAddress(start), size)]));

        Assert.Equal(GuestMemoryError.InvalidRegion, e.Error);
    }

    [Fact]
    public void Create_should_reject_a_region_that_wraps_around()
    {
        var e = Assert.Throws<GuestMemoryException>(() =>
            GuestMemory.Create([(new GuestAddress(ulong.MaxValue - Page + 1), 2 * Page)]));

        Assert.Equal(GuestMemoryError.AddressOverflow, e.Error);
    }

    [Fact]
    public void Access_after_dispose_should_throw_not_fault()
    {
        var mem = TwoAdjacentRegions();
        mem.Dispose();

        Assert.Throws<ObjectDisposedException>(() => mem.Read<uint>(new GuestAddress(0)));
    }
}
