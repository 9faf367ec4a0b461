using System.Buffers.Binary;
using System.Text;
using ActorVmm.Devices.Virtio;
using ActorVmm.Kvm.Memory;
using Xunit;
using static ActorVmm.TestSupport.Virtio.MockVirtqueue;

namespace ActorVmm.Devices.Tests.Virtio;

public sealed class VirtioBlockDeviceTests : VirtioBlockTestBase
{
    [Fact]
    public void Config_should_report_capacity_in_sectors_and_segment_limits()
    {
        var blk = Attach();
        var config = new byte[24];

        blk.ReadConfig(0, config);

        Assert.Equal((ulong)Sectors, BinaryPrimitives.ReadUInt64LittleEndian(config));
        var sizeMax = BinaryPrimitives.ReadUInt32LittleEndian(config.AsSpan(8));
        var segMax = BinaryPrimitives.ReadUInt32LittleEndian(config.AsSpan(12));
        Assert.Equal(254u, segMax);
        Assert.InRange(sizeMax, 4096u, VirtqueueLimits.Default.MaxDescriptorLength);
        Assert.True(((ulong)sizeMax * segMax) + 17 <= VirtqueueLimits.Default.MaxChainLength);
        Assert.Equal(512u, BinaryPrimitives.ReadUInt32LittleEndian(config.AsSpan(20)));
        Assert.Equal(0UL, blk.AvailableFeatures & VirtioBlockDevice.FeatureReadOnly);
    }

    [Fact]
    public void Read_should_return_the_sectors_from_theImagePath()
    {
        Attach();
        var data = Ram.Allocate(1024);

        var (status, used) = Request(VirtioBlockDevice.RequestIn, 5, inData: (data, 1024));

        Assert.Equal(VirtioBlockDevice.StatusOk, status);
        Assert.Equal(1025u, used);
        var bytes = Ram.ReadBytes(data, 1024);
        Assert.All(bytes[..512], b => Assert.Equal(5, b));
        Assert.All(bytes[512..], b => Assert.Equal(6, b));
    }

    [Fact]
    public void Read_through_an_indirect_table_should_fill_every_buffer()
    {
        Attach();
        var header = Header(VirtioBlockDevice.RequestIn, 2);
        var a = Ram.Allocate(512);
        var b = Ram.Allocate(512);
        var status = Ram.Allocate(1);
        Queue.AddIndirectChain(Ram.Allocate(64), Buf.Readable(header, 16), Buf.Writable(a, 512), Buf.Writable(b, 512), Buf.Writable(status, 1));

        Driver.Notify(0);

        Assert.Equal(VirtioBlockDevice.StatusOk, Ram.ReadBytes(status, 1)[0]);
        Assert.All(Ram.ReadBytes(a, 512), x => Assert.Equal(2, x));
        Assert.All(Ram.ReadBytes(b, 512), x => Assert.Equal(3, x));
    }

    [Fact]
    public void Write_then_flush_should_reach_theImagePath_file()
    {
        var blk = Attach();
        var payload = Enumerable.Repeat((byte)0xAB, 512).ToArray();

        var (writeStatus, writeUsed) = Request(VirtioBlockDevice.RequestOut, 10, outData: payload);
        var (flushStatus, _) = Request(VirtioBlockDevice.RequestFlush, 0);
        blk.Dispose();

        Assert.Equal(VirtioBlockDevice.StatusOk, writeStatus);
        Assert.Equal(1u, writeUsed);
        Assert.Equal(VirtioBlockDevice.StatusOk, flushStatus);
        var file = File.ReadAllBytes(ImagePath);
        Assert.All(file.AsSpan(10 * 512, 512).ToArray(), b => Assert.Equal(0xAB, b));
        Assert.All(file.AsSpan(11 * 512, 512).ToArray(), b => Assert.Equal(11, b));
    }

    [Fact]
    public void Get_id_should_return_the_20_byte_serial()
    {
        Attach(serial: "disk-serial-1");
        var id = Ram.Allocate(20);

        var (status, used) = Request(VirtioBlockDevice.RequestGetId, 0, inData: (id, 20));

        Assert.Equal(VirtioBlockDevice.StatusOk, status);
        Assert.Equal(21u, used);
        var expected = new byte[20];
        Encoding.ASCII.GetBytes("disk-serial-1").CopyTo(expected, 0);
        Assert.Equal(expected, Ram.ReadBytes(id, 20));
    }

    [Fact]
    public void Read_onlyImagePath_should_advertise_ro_and_fail_writes_with_ioerr()
    {
        var blk = Attach(readOnly: true);

        var (status, _) = Request(VirtioBlockDevice.RequestOut, 0, outData: new byte[512]);
        blk.Dispose();

        Assert.NotEqual(0UL, blk.AvailableFeatures & VirtioBlockDevice.FeatureReadOnly);
        Assert.Equal(VirtioBlockDevice.StatusIoError, status);
        Assert.All(File.ReadAllBytes(ImagePath).AsSpan(0, 512).ToArray(), b => Assert.Equal(0, b));
    }

    [Theory]
    [InlineData(Sectors, 512)]
    [InlineData(Sectors - 1, 1024)]
    [InlineData(ulong.MaxValue, 512)]
    [InlineData(0, 100)]
    public void Out_of_range_or_partial_sector_reads_should_fail_with_ioerr(ulong sector, int length)
    {
        Attach();

        var (status, used) = Request(VirtioBlockDevice.RequestIn, sector, inData: (Ram.Allocate((ulong)length), (uint)length));

        Assert.Equal(VirtioBlockDevice.StatusIoError, status);
        Assert.Equal(1u, used);
    }

    [Fact]
    public void Out_of_range_write_should_fail_with_ioerr_and_not_grow_theImagePath()
    {
        var blk = Attach();

        var (status, _) = Request(VirtioBlockDevice.RequestOut, Sectors, outData: new byte[512]);
        blk.Dispose();

        Assert.Equal(VirtioBlockDevice.StatusIoError, status);
        Assert.Equal(Sectors * 512, new FileInfo(ImagePath).Length);
    }

    [Fact]
    public void Unknown_request_type_should_fail_with_unsupported()
    {
        Attach();

        var (status, _) = Request(0x1234, 0);

        Assert.Equal(VirtioBlockDevice.StatusUnsupported, status);
    }

    [Fact]
    public void Request_without_status_byte_should_be_completed_empty_and_counted()
    {
        Attach();
        Queue.AddChain(Buf.Readable(Header(VirtioBlockDevice.RequestIn, 0), 16));

        Driver.Notify(0);

        Assert.Equal((0u, 0u), Queue.ReadUsed(0));
        Assert.Equal(1, Device!.Stats.GuestErrors);
    }

    [Fact]
    public void Header_split_across_descriptors_should_still_be_parsed()
    {
        Attach();
        var header = Header(VirtioBlockDevice.RequestIn, 7);
        var data = Ram.Allocate(512);
        var status = Ram.Allocate(1);
        Queue.AddChain(Buf.Readable(header, 4), Buf.Readable(new GuestAddress(header.Value + 4), 12), Buf.Writable(data, 512), Buf.Writable(status, 1));

        Driver.Notify(0);

        Assert.Equal(VirtioBlockDevice.StatusOk, Ram.ReadBytes(status, 1)[0]);
        Assert.All(Ram.ReadBytes(data, 512), b => Assert.Equal(7, b));
    }

    [Fact]
    public void Opening_a_missingImagePath_should_say_so()
    {
        var ex = Assert.Throws<VirtioBlockException>(() => new VirtioBlockDevice(ImagePath + ".missing"));

        Assert.Contains("does not exist", ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void Opening_an_emptyImagePath_should_say_so()
    {
        File.WriteAllBytes(ImagePath, []);

        var ex = Assert.Throws<VirtioBlockException>(() => new VirtioBlockDevice(ImagePath));

        Assert.Contains("empty", ex.Message);
    }

    [Fact]
    public void Opening_anImagePath_of_partial_sectors_should_say_so()
    {
        File.WriteAllBytes(ImagePath, new byte[1000]);

        var ex = Assert.Throws<VirtioBlockException>(() => new VirtioBlockDevice(ImagePath));

        Assert.Contains("not a multiple of 512", ex.Message);
    }
}
