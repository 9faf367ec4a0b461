using System.Buffers.Binary;
using ActorVmm.Devices.Virtio;
using ActorVmm.Kvm.Memory;
using ActorVmm.TestSupport.Fakes;
using ActorVmm.TestSupport.Virtio;
using Xunit;
using static ActorVmm.TestSupport.Virtio.MockVirtqueue;

namespace ActorVmm.Devices.Tests.Virtio;

/// <summary>
/// A virtio-blk device over a temporary image of <see cref="Sectors"/> sectors (sector N filled with byte N), behind
/// the virtio-pci transport and a mock guest driver with one queue in test memory.
/// </summary>
public abstract class VirtioBlockTestBase : IDisposable
{
    protected const int Sectors = 64;

    private readonly List<IDisposable> _owned = [];

    protected VirtioBlockTestBase()
    {
        ImagePath = Path.Combine(Path.GetTempPath(), $"actorvmm-blk-{Guid.NewGuid():N}.img");
        var content = new byte[Sectors * 512];
        for (var i = 0; i < content.Length; i++)
        {
            content[i] = (byte)(i / 512);
        }

        File.WriteAllBytes(ImagePath, content);
    }

    private protected TestMemory Ram { get; } = new();

    protected string ImagePath { get; }

    private protected MockVirtqueue Queue { get; private set; } = null!;

    private protected VirtioPciDriver Driver { get; private set; } = null!;

    protected VirtioPciDevice? Device { get; private set; }

    public void Dispose()
    {
        foreach (var d in _owned)
        {
            d.Dispose();
        }

        Ram.Dispose();
        File.Delete(ImagePath);
        GC.SuppressFinalize(this);
    }

    protected VirtioBlockDevice Attach(bool readOnly = false, string? serial = null)
    {
        var blk = new VirtioBlockDevice(ImagePath, readOnly, serial);
        _owned.Add(blk);
        Device = new VirtioPciDevice("disk0", blk, Ram.Memory, new RecordingInterruptLine(), 0xE000_0000, 10);
        Driver = new VirtioPciDriver(Device);
        Queue = new MockVirtqueue(Ram.Memory, TestMemory.RingBase(0), 256);
        Driver.Initialize(Queue);
        return blk;
    }

    protected GuestAddress Header(uint type, ulong sector)
    {
        var header = new byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(header, type);
        BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(8), sector);
        return Ram.AllocateFilled(header);
    }

    /// <summary>One request (header, optional driver-written data, optional device-written buffer, status); returns its status and used length.</summary>
    protected (byte Status, uint Used) Request(uint type, ulong sector, byte[]? outData = null, (GuestAddress Address, uint Length)? inData = null)
    {
        var buffers = new List<Buf> { Buf.Readable(Header(type, sector), 16) };
        if (outData is not null)
        {
            buffers.Add(Buf.Readable(Ram.AllocateFilled(outData), (uint)outData.Length));
        }

        if (inData is { } d)
        {
            buffers.Add(Buf.Writable(d.Address, d.Length));
        }

        var status = Ram.Allocate(1);
        Ram.Memory.Write(status, (byte)0xEE);
        buffers.Add(Buf.Writable(status, 1));
        var position = Queue.UsedIdx;
        Queue.AddChain([.. buffers]);
        Driver.Notify(0);
        Assert.Equal(position + 1, Queue.UsedIdx);
        return (Ram.ReadBytes(status, 1)[0], Queue.ReadUsed(position).Length);
    }
}
