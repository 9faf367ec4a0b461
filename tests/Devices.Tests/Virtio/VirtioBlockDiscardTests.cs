using System.Buffers.Binary;
using ActorVmm.Devices.Virtio;
using ActorVmm.Kvm.Linux;
using Xunit;

namespace ActorVmm.Devices.Tests.Virtio;

public sealed class VirtioBlockDiscardTests : VirtioBlockTestBase
{
    private const uint Unmap = VirtioBlockDevice.RangeFlagUnmap;

    [Fact]
    public void Writable_disk_should_offer_discard_and_write_zeroes_with_their_limits()
    {
        var blk = Attach();
        var config = new byte[blk.ConfigSize];

        blk.ReadConfig(0, config);

        Assert.NotEqual(0UL, blk.AvailableFeatures & VirtioBlockDevice.FeatureDiscard);
        Assert.NotEqual(0UL, blk.AvailableFeatures & VirtioBlockDevice.FeatureWriteZeroes);
        Assert.Equal(VirtioBlockDevice.MaxRangeSectors, BinaryPrimitives.ReadUInt32LittleEndian(config.AsSpan(36)));
        Assert.Equal(VirtioBlockDevice.MaxDiscardSegments, BinaryPrimitives.ReadUInt32LittleEndian(config.AsSpan(40)));
        Assert.Equal(VirtioBlockDevice.DiscardAlignmentSectors, BinaryPrimitives.ReadUInt32LittleEndian(config.AsSpan(44)));
        Assert.Equal(VirtioBlockDevice.MaxRangeSectors, BinaryPrimitives.ReadUInt32LittleEndian(config.AsSpan(48)));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(config.AsSpan(52)));
        Assert.Equal(1, config[56]);
    }

    [Theory]
    [InlineData(VirtioBlockDevice.RequestDiscard, 0u)]
    [InlineData(VirtioBlockDevice.RequestWriteZeroes, Unmap)]
    public void Read_only_disk_should_offer_neither_and_fail_both_with_ioerr(uint type, uint flags)
    {
        var blk = Attach(readOnly: true);
        var config = new byte[blk.ConfigSize];
        blk.ReadConfig(0, config);

        var (status, _) = Request(type, 0, outData: Ranges((4, 2, flags)));
        blk.Dispose();

        Assert.Equal(0UL, blk.AvailableFeatures & (VirtioBlockDevice.FeatureDiscard | VirtioBlockDevice.FeatureWriteZeroes));
        Assert.All(config[36..], b => Assert.Equal(0, b));
        Assert.Equal(VirtioBlockDevice.StatusIoError, status);
        AssertSectorsIntact(File.ReadAllBytes(ImagePath), 0, Sectors);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Write_zeroes_should_make_the_range_read_zero_and_keep_the_rest(bool unmap)
    {
        var blk = Attach();

        var (status, used) = Request(VirtioBlockDevice.RequestWriteZeroes, 0, outData: Ranges((8, 8, unmap ? Unmap : 0)));
        blk.Dispose();

        Assert.Equal(VirtioBlockDevice.StatusOk, status);
        Assert.Equal(1u, used);
        var file = File.ReadAllBytes(ImagePath);
        Assert.Equal(Sectors * 512, file.Length);
        Assert.All(file[(8 * 512)..(16 * 512)], b => Assert.Equal(0, b));
        AssertSectorsIntact(file, 0, 8);
        AssertSectorsIntact(file, 16, Sectors);
    }

    [Fact]
    public void Discard_should_keep_the_image_size_and_every_sector_outside_its_ranges()
    {
        var blk = Attach();

        var (status, _) = Request(VirtioBlockDevice.RequestDiscard, 0, outData: Ranges((8, 8, 0), (24, 16, 0)));
        blk.Dispose();

        Assert.Equal(VirtioBlockDevice.StatusOk, status);
        var file = File.ReadAllBytes(ImagePath);
        Assert.Equal(Sectors * 512, file.Length);
        AssertSectorsIntact(file, 0, 8);
        AssertSectorsIntact(file, 16, 24);
        AssertSectorsIntact(file, 40, Sectors);
        if (FileSpace.PunchesHoles(Path.GetDirectoryName(ImagePath)!))
        {
            // Where the host frees the range, the guest reads zeroes there (as from a fresh thin disk).
            Assert.All(file[(8 * 512)..(16 * 512)], b => Assert.Equal(0, b));
            Assert.All(file[(24 * 512)..(40 * 512)], b => Assert.Equal(0, b));
        }
    }

    [Fact]
    public void Discard_with_the_unmap_flag_should_be_unsupported()
    {
        Attach();

        var (status, _) = Request(VirtioBlockDevice.RequestDiscard, 0, outData: Ranges((8, 8, Unmap)));

        Assert.Equal(VirtioBlockDevice.StatusUnsupported, status);
    }

    [Theory]
    [InlineData(VirtioBlockDevice.RequestWriteZeroes, 2u)]
    [InlineData(VirtioBlockDevice.RequestWriteZeroes, 0x8000_0001u)]
    [InlineData(VirtioBlockDevice.RequestDiscard, 4u)]
    public void Unknown_range_flags_should_be_unsupported_and_change_nothing(uint type, uint flags)
    {
        var blk = Attach();

        var (status, _) = Request(type, 0, outData: Ranges((8, 8, flags)));
        blk.Dispose();

        Assert.Equal(VirtioBlockDevice.StatusUnsupported, status);
        AssertSectorsIntact(File.ReadAllBytes(ImagePath), 0, Sectors);
    }

    [Theory]
    [InlineData(VirtioBlockDevice.RequestWriteZeroes, Sectors - 1, 2u)]
    [InlineData(VirtioBlockDevice.RequestWriteZeroes, ulong.MaxValue, 1u)]
    [InlineData(VirtioBlockDevice.RequestWriteZeroes, 0, VirtioBlockDevice.MaxRangeSectors + 1)]
    [InlineData(VirtioBlockDevice.RequestDiscard, Sectors, 1u)]
    [InlineData(VirtioBlockDevice.RequestDiscard, 1, uint.MaxValue)]
    public void Ranges_off_the_disk_or_too_long_should_fail_with_ioerr_and_change_nothing(uint type, ulong sector, uint sectors)
    {
        var blk = Attach();

        var (status, _) = Request(type, 0, outData: Ranges((sector, sectors, 0)));
        blk.Dispose();

        Assert.Equal(VirtioBlockDevice.StatusIoError, status);
        var file = File.ReadAllBytes(ImagePath);
        Assert.Equal(Sectors * 512, file.Length);
        AssertSectorsIntact(file, 0, Sectors);
    }

    [Fact]
    public void One_bad_range_should_fail_the_whole_discard_before_any_range_is_served()
    {
        var blk = Attach();

        var (status, _) = Request(VirtioBlockDevice.RequestDiscard, 0, outData: Ranges((8, 8, 0), (Sectors, 8, 0)));
        blk.Dispose();

        Assert.Equal(VirtioBlockDevice.StatusIoError, status);
        AssertSectorsIntact(File.ReadAllBytes(ImagePath), 0, Sectors);
    }

    [Theory]
    [InlineData(VirtioBlockDevice.RequestDiscard, 0)]
    [InlineData(VirtioBlockDevice.RequestDiscard, 15)]
    [InlineData(VirtioBlockDevice.RequestDiscard, 24)]
    [InlineData(VirtioBlockDevice.RequestDiscard, (VirtioBlockDevice.MaxDiscardSegments + 1) * 16)]
    [InlineData(VirtioBlockDevice.RequestWriteZeroes, 32)]
    public void Malformed_range_lists_should_fail_with_ioerr_and_be_counted(uint type, int length)
    {
        var blk = Attach();
        var data = new byte[length];
        for (var i = 0; i + 16 <= length; i += 16)
        {
            Ranges((8, 1, 0)).CopyTo(data, i);
        }

        var (status, _) = Request(type, 0, outData: length == 0 ? null : data);
        blk.Dispose();

        Assert.Equal(VirtioBlockDevice.StatusIoError, status);
        Assert.Equal(1, Device!.Stats.GuestErrors);
        AssertSectorsIntact(File.ReadAllBytes(ImagePath), 0, Sectors);
    }

    private static byte[] Ranges(params (ulong Sector, uint Sectors, uint Flags)[] ranges)
    {
        var data = new byte[ranges.Length * VirtioBlockDevice.RangeLength];
        for (var i = 0; i < ranges.Length; i++)
        {
            var range = data.AsSpan(i * VirtioBlockDevice.RangeLength);
            BinaryPrimitives.WriteUInt64LittleEndian(range, ranges[i].Sector);
            BinaryPrimitives.WriteUInt32LittleEndian(range[8..], ranges[i].Sectors);
            BinaryPrimitives.WriteUInt32LittleEndian(range[12..], ranges[i].Flags);
        }

        return data;
    }

    /// <summary>Sectors [from, to) still hold their original bytes (sector N is all N).</summary>
    private static void AssertSectorsIntact(byte[] file, int from, int to)
    {
        for (var sector = from; sector < to; sector++)
        {
            var expected = (byte)sector;
            Assert.True(file.AsSpan(sector * 512, 512).IndexOfAnyExcept(expected) < 0, $"sector {sector} changed");
        }
    }
}
