using System.Buffers.Binary;
using ActorVmm.Devices.Virtio;
using ActorVmm.Kvm.Memory;
using ActorVmm.TestSupport.Virtio;
using Xunit;
using static ActorVmm.TestSupport.Virtio.MockVirtqueue;

namespace ActorVmm.Devices.Tests.Virtio;

/// <summary>
/// The virtio-blk data path straight between the image and guest RAM: buffers the device merges (adjacent in guest
/// RAM), splits (across RAM regions) or meets in large numbers (indirect tables), and guest garbage on that path.
/// </summary>
public sealed class VirtioBlockDataPathTests : IDisposable
{
    private const int Sectors = 1024;
    private const ulong RegionSize = 2UL << 20;

    // Two adjacent RAM regions, [0, 2 MiB) and [2 MiB, 4 MiB), so a buffer can straddle the boundary; and a third
    // one further up, after a hole.
    private readonly GuestMemory _memory = GuestMemory.Create(
    [
        (GuestAddress.Zero, RegionSize),
        (new GuestAddress(RegionSize), RegionSize),
        (new GuestAddress(16UL << 20), RegionSize),
    ]);

    private readonly string _image = Path.Combine(Path.GetTempPath(), $"actorvmm-blkpath-{Guid.NewGuid():N}.img");
    private readonly VirtioBlockDevice _blk;
    private readonly MockVirtqueue _driver;
    private readonly Virtqueue _queue;
    private ulong _next = 0x10_0000;

    public VirtioBlockDataPathTests()
    {
        var content = new byte[Sectors * 512];
        for (var i = 0; i < content.Length; i++)
        {
            // Every byte says where it is: sector in the high bits, position in the low bits.
            content[i] = (byte)((i / 512 * 7) + (i % 512));
        }

        File.WriteAllBytes(_image, content);
        _blk = new VirtioBlockDevice(_image);
        _driver = new MockVirtqueue(_memory, new GuestAddress(0x1000), 256);
        _queue = _driver.CreateDeviceQueue(indirect: true);
    }

    public void Dispose()
    {
        _blk.Dispose();
        _memory.Dispose();
        File.Delete(_image);
    }

    [Fact]
    public void Read_into_adjacent_and_scattered_buffers_should_put_each_sector_where_its_descriptor_points()
    {
        // a and b adjacent (merged into one segment), then c, then d just BEFORE c (adjacent, but in the wrong
        // order to merge), then e adjacent to c's end.
        var a = Allocate(512);
        var b = new GuestAddress(a.Value + 512);
        _next += 512;
        var d = Allocate(512);
        var c = new GuestAddress(d.Value + 512);
        var e = new GuestAddress(c.Value + 512);
        _next += 1024;
        Buf[] data = [Buf.Writable(a, 512), Buf.Writable(b, 512), Buf.Writable(c, 512), Buf.Writable(d, 512), Buf.Writable(e, 512)];

        var status = Request(VirtioBlockDevice.RequestIn, 10, data);

        Assert.Equal(VirtioBlockDevice.StatusOk, status);
        Assert.Equal(ImageBytes(10, 1), Bytes(a, 512));
        Assert.Equal(ImageBytes(11, 1), Bytes(b, 512));
        Assert.Equal(ImageBytes(12, 1), Bytes(c, 512));
        Assert.Equal(ImageBytes(13, 1), Bytes(d, 512));
        Assert.Equal(ImageBytes(14, 1), Bytes(e, 512));
    }

    [Fact]
    public void Write_from_adjacent_and_scattered_buffers_should_store_them_in_chain_order()
    {
        var a = Allocate(1024);
        var b = new GuestAddress(a.Value + 1024);
        _next += 512;
        var c = Allocate(512);
        Fill(a, 1024, 0xA1);
        Fill(b, 512, 0xB2);
        Fill(c, 512, 0xC3);

        // c comes first in the chain although it lies after a and b in RAM.
        var status = Request(VirtioBlockDevice.RequestOut, 20, [Buf.Readable(c, 512), Buf.Readable(a, 1024), Buf.Readable(b, 512)]);
        _blk.Dispose();

        Assert.Equal(VirtioBlockDevice.StatusOk, status);
        var file = File.ReadAllBytes(_image);
        Assert.All(file.AsSpan(20 * 512, 512).ToArray(), x => Assert.Equal(0xC3, x));
        Assert.All(file.AsSpan(21 * 512, 1024).ToArray(), x => Assert.Equal(0xA1, x));
        Assert.All(file.AsSpan(23 * 512, 512).ToArray(), x => Assert.Equal(0xB2, x));
        Assert.Equal(ImageBytes(24, 1), file.AsSpan(24 * 512, 512).ToArray());
    }

    [Fact]
    public void Read_into_a_buffer_straddling_two_ram_regions_should_fill_both_sides()
    {
        var straddling = new GuestAddress(RegionSize - 1024);

        var status = Request(VirtioBlockDevice.RequestIn, 3, [Buf.Writable(straddling, 2048)]);

        Assert.Equal(VirtioBlockDevice.StatusOk, status);
        Assert.Equal(ImageBytes(3, 4), Bytes(straddling, 2048));
    }

    [Fact]
    public void Write_from_buffers_in_three_regions_should_store_them_in_order()
    {
        var low = Allocate(512);
        var straddling = new GuestAddress(RegionSize - 512);
        var high = new GuestAddress((16UL << 20) + 4096);
        Fill(low, 512, 1);
        Fill(straddling, 1024, 2);
        Fill(high, 512, 3);

        var status = Request(VirtioBlockDevice.RequestOut, 100,
            [Buf.Readable(low, 512), Buf.Readable(straddling, 1024), Buf.Readable(high, 512)]);
        _blk.Dispose();

        Assert.Equal(VirtioBlockDevice.StatusOk, status);
        var file = File.ReadAllBytes(_image);
        Assert.Equal(Enumerable.Repeat((byte)1, 512).Concat(Enumerable.Repeat((byte)2, 1024)).Concat(Enumerable.Repeat((byte)3, 512)),
            file.AsSpan(100 * 512, 2048).ToArray());
    }

    [Fact]
    public void Read_of_254_scattered_sectors_through_an_indirect_table_should_fill_every_buffer()
    {
        // Linux's largest request (seg_max = 254): every other 512-byte slot, so nothing merges.
        var buffers = new List<Buf>();
        var addresses = new List<GuestAddress>();
        for (var i = 0; i < 254; i++)
        {
            var at = Allocate(1024);
            addresses.Add(at);
            buffers.Add(Buf.Writable(at, 512));
        }

        var status = RequestIndirect(VirtioBlockDevice.RequestIn, 500, buffers);

        Assert.Equal(VirtioBlockDevice.StatusOk, status);
        for (var i = 0; i < 254; i++)
        {
            Assert.Equal(ImageBytes(500 + (ulong)i, 1), Bytes(addresses[i], 512));
        }
    }

    [Fact]
    public void A_data_buffer_running_past_the_end_of_ram_should_fail_the_chain_and_leave_the_image_alone()
    {
        var top = new GuestAddress((16UL << 20) + RegionSize - 512);
        var before = ImageBytes(0, Sectors);

        var head = _driver.AddChain(Buf.Readable(Header(VirtioBlockDevice.RequestOut, 0), 16), Buf.Readable(top, 1024), Buf.Writable(Allocate(1), 1));
        _blk.ProcessQueue(0, _queue, _memory);
        _blk.Dispose();

        Assert.Equal(1, _queue.GuestErrors);
        Assert.Equal(((uint)head, 0u), _driver.ReadUsed(0));
        Assert.Equal(before, File.ReadAllBytes(_image));
    }

    [Fact]
    public void A_data_buffer_in_the_hole_between_regions_should_fail_the_chain()
    {
        var hole = new GuestAddress(8UL << 20);

        var head = _driver.AddChain(Buf.Readable(Header(VirtioBlockDevice.RequestIn, 0), 16), Buf.Writable(hole, 512), Buf.Writable(Allocate(1), 1));
        _blk.ProcessQueue(0, _queue, _memory);

        Assert.Equal(1, _queue.GuestErrors);
        Assert.Equal(((uint)head, 0u), _driver.ReadUsed(0));
    }

    [Fact]
    public void Random_garbage_indirect_tables_should_complete_or_fail_every_chain_without_throwing()
    {
        var random = new Random(1234);
        var table = Allocate(16 * 64);
        var raw = new byte[16 * 64];
        for (var round = 0; round < 200; round++)
        {
            random.NextBytes(raw);
            for (var i = 0; i < 64; i++)
            {
                // Mostly plausible addresses and lengths, so some chains get as far as the data path.
                if (random.Next(2) == 0)
                {
                    BinaryPrimitives.WriteUInt64LittleEndian(raw.AsSpan(i * 16), (ulong)random.Next(0, 5 << 20));
                    BinaryPrimitives.WriteUInt32LittleEndian(raw.AsSpan((i * 16) + 8), (uint)random.Next(1, 4096));
                }
            }

            _memory.Write(table, raw);
            var head = _driver.Reserve(1);
            _driver.WriteDescriptor(head, table.Value, (uint)(16 * random.Next(1, 65)), Descriptor.FlagIndirect, 0);
            var before = _driver.UsedIdx;
            _driver.Publish(head);

            _blk.ProcessQueue(0, _queue, _memory);

            Assert.False(_queue.Broken);
            Assert.Equal((ushort)(before + 1), _driver.UsedIdx);
        }
    }

    private GuestAddress Allocate(ulong length)
    {
        var at = new GuestAddress(_next);
        _next += (length + 15) & ~15UL;
        return at;
    }

    private byte[] Bytes(GuestAddress at, int length)
    {
        var bytes = new byte[length];
        _memory.Read(at, bytes);
        return bytes;
    }

    private void Fill(GuestAddress at, int length, byte value) => _memory.Write(at, Enumerable.Repeat(value, length).ToArray());

    private static byte[] ImageBytes(ulong sector, int count) =>
        Enumerable.Range((int)sector * 512, count * 512).Select(i => (byte)((i / 512 * 7) + (i % 512))).ToArray();

    private GuestAddress Header(uint type, ulong sector)
    {
        var header = new byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(header, type);
        BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(8), sector);
        var at = Allocate(16);
        _memory.Write(at, header);
        return at;
    }

    private byte Request(uint type, ulong sector, Buf[] data)
    {
        var status = Allocate(1);
        _memory.Write(status, (byte)0xEE);
        var position = _driver.UsedIdx;
        _driver.AddChain([Buf.Readable(Header(type, sector), 16), .. data, Buf.Writable(status, 1)]);
        _blk.ProcessQueue(0, _queue, _memory);
        Assert.Equal(position + 1, _driver.UsedIdx);
        return Bytes(status, 1)[0];
    }

    private byte RequestIndirect(uint type, ulong sector, List<Buf> data)
    {
        var status = Allocate(1);
        _memory.Write(status, (byte)0xEE);
        var position = _driver.UsedIdx;
        Buf[] all = [Buf.Readable(Header(type, sector), 16), .. data, Buf.Writable(status, 1)];
        _driver.AddIndirectChain(Allocate(16UL * (ulong)all.Length), all);
        _blk.ProcessQueue(0, _queue, _memory);
        Assert.Equal(position + 1, _driver.UsedIdx);
        return Bytes(status, 1)[0];
    }
}
