using System.Runtime.InteropServices;
using ActorVmm.Kvm.Memory;
using Xunit;

namespace ActorVmm.Kvm.Tests.Memory;

public sealed partial class GuestMemoryImageTests : IDisposable
{
    private const ulong Page = GuestMemory.PageSize;
    private const ulong MiB = 1 << 20;

    private static readonly (GuestAddress Start, ulong Size)[] Layout =
    [
        (new GuestAddress(0), 8 * Page),
        (new GuestAddress(0x10_0000), 16 * Page),
    ];

    private readonly string _path = Path.Combine(Path.GetTempPath(), $"actorvmm-image-{Guid.NewGuid():N}");

    public void Dispose() => File.Delete(_path);

    private static GuestMemory Filled()
    {
        var memory = GuestMemory.Create(Layout);
        memory.Write(new GuestAddress(0x10), 0x1122_3344_5566_7788UL);
        memory.Write(new GuestAddress((3 * Page) - 1), (byte)0xAB); // last byte of page 2
        memory.Write(new GuestAddress(0x10_0000 + (5 * Page)), Enumerable.Repeat((byte)0xCD, (int)(2 * Page)).ToArray());
        memory.Write(new GuestAddress(0x10_0000 + (16 * Page) - 8), ulong.MaxValue);
        return memory;
    }

    private static byte[] Contents(GuestMemory memory) =>
        memory.Regions.SelectMany(r =>
        {
            var bytes = new byte[r.Size];
            memory.Read(r.Start, bytes);
            return bytes;
        }).ToArray();

    [Fact]
    public void Image_mapped_back_should_hold_the_same_contents()
    {
        using var original = Filled();

        var (written, total) = original.WriteSparseImage(_path);
        using var mapped = GuestMemory.MapFile(Layout, _path);

        Assert.Equal(24 * Page, total);
        Assert.Equal(5 * Page, written); // pages 0 and 2 of the first region, 5, 6 and 15 of the second
        Assert.Equal(Contents(original), Contents(mapped));
        Assert.Equal(Layout.Select(r => r.Start), mapped.Regions.Select(r => r.Start));
        Assert.Equal([0, 1], mapped.Regions.Select(r => r.Slot));
    }

    [Fact]
    public void Image_should_place_each_region_after_the_previous_one()
    {
        using var original = Filled();

        original.WriteSparseImage(_path);
        var file = File.ReadAllBytes(_path);

        Assert.Equal((long)(24 * Page), file.Length);
        Assert.Equal(0x1122_3344_5566_7788UL, BitConverter.ToUInt64(file, 0x10));
        Assert.Equal(0xAB, file[(3 * Page) - 1]);
        Assert.Equal(0xCD, file[(8 + 5) * Page]);
        Assert.Equal(ulong.MaxValue, BitConverter.ToUInt64(file, (int)((24 * Page) - 8)));
    }

    [Fact]
    public void Writes_to_a_mapped_image_should_not_reach_the_file()
    {
        using (var original = Filled())
        {
            original.WriteSparseImage(_path);
        }

        var before = File.ReadAllBytes(_path);
        using (var mapped = GuestMemory.MapFile(Layout, _path))
        {
            mapped.Write(new GuestAddress(0x10), 0UL);
            mapped.Write(new GuestAddress(0x10_0000 + Page), 0xEEEE_EEEEu);
            Assert.Equal(0xEEEE_EEEEu, mapped.Read<uint>(new GuestAddress(0x10_0000 + Page)));
        }

        Assert.Equal(before, File.ReadAllBytes(_path));
        using var again = GuestMemory.MapFile(Layout, _path);
        Assert.Equal(0x1122_3344_5566_7788UL, again.Read<ulong>(new GuestAddress(0x10)));
    }

    [Fact]
    public void Image_of_a_mapped_image_should_hold_the_pages_the_guest_never_touched()
    {
        using (var original = Filled())
        {
            original.WriteSparseImage(_path);
        }

        var second = _path + ".2";
        try
        {
            using (var mapped = GuestMemory.MapFile(Layout, _path))
            {
                mapped.Write(new GuestAddress(0x10_0000 + Page), 0xEEEE_EEEEu);
                mapped.WriteSparseImage(second);
            }

            var expected = File.ReadAllBytes(_path);
            BitConverter.TryWriteBytes(expected.AsSpan((int)((8 + 1) * Page)), 0xEEEE_EEEEu);
            Assert.Equal(expected, File.ReadAllBytes(second));
        }
        finally
        {
            File.Delete(second);
        }
    }

    [Fact]
    public void Image_of_a_mostly_zero_memory_should_be_sparse()
    {
        using var memory = GuestMemory.Create([(GuestAddress.Zero, 64 * MiB)]);
        memory.Write(new GuestAddress(32 * MiB), 1UL);
        memory.Write(new GuestAddress((64 * MiB) - 1), (byte)1);

        var (written, total) = memory.WriteSparseImage(_path);

        Assert.Equal((2 * Page, 64 * MiB), (written, total));
        Assert.Equal((long)(64 * MiB), new FileInfo(_path).Length);
        Assert.True(AllocatedBytes(_path) <= (long)MiB, $"{AllocatedBytes(_path)} bytes allocated for a 64 MiB image of 2 pages");
    }

    [Fact]
    public void A_file_of_the_wrong_size_should_be_refused_in_one_line()
    {
        File.WriteAllBytes(_path, new byte[(24 * Page) - Page]);

        var e = Assert.Throws<GuestMemoryException>(() => GuestMemory.MapFile(Layout, _path));

        Assert.Contains("0x17000", e.Message);
        Assert.Contains("0x18000", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void A_missing_file_should_be_refused_naming_it()
    {
        var e = Assert.Throws<GuestMemoryException>(() => GuestMemory.MapFile(Layout, _path));

        Assert.Contains(_path, e.Message);
    }

    [Fact]
    public void A_mapped_image_should_unmap_on_dispose_and_honour_leases()
    {
        using (var original = Filled())
        {
            original.WriteSparseImage(_path);
        }

        var mapped = GuestMemory.MapFile(Layout, _path);
        Assert.True(mapped.TryLease());
        mapped.Dispose();
        Assert.False(mapped.Unmapped);
        mapped.ReleaseLease();

        Assert.True(mapped.Unmapped);
        Assert.Throws<ObjectDisposedException>(() => mapped.WriteSparseImage(_path + ".2"));
    }

    [Fact]
    public void Mapped_regions_should_keep_the_2_MiB_congruence_of_guest_and_host_addresses()
    {
        (GuestAddress, ulong)[] layout = [(new GuestAddress(0x20_0000 + Page), 4 * MiB)];
        using (var memory = GuestMemory.Create(layout))
        {
            memory.WriteSparseImage(_path);
        }

        using var mapped = GuestMemory.MapFile(layout, _path);

        var region = mapped.Regions[0];
        Assert.Equal(region.Start.Value % (2 * MiB), (ulong)region.HostAddress % (2 * MiB));
    }

    /// <summary>st_blocks * 512 from stat(2) (x86-64 struct stat: st_blocks at offset 64 of 144 bytes).</summary>
    private static long AllocatedBytes(string path)
    {
        var buffer = new byte[144];
        Assert.Equal(0, Stat(path, buffer));
        return BitConverter.ToInt64(buffer, 64) * 512;
    }

    [LibraryImport("libc", EntryPoint = "stat", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Stat(string path, [Out] byte[] buffer);
}
