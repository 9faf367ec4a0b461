using ActorVmm.Kvm.Memory;

namespace ActorVmm.TestSupport.Virtio;

/// <summary>A few MiB of guest RAM plus a bump allocator for test buffers above the rings.</summary>
public sealed class TestMemory : IDisposable
{
    public const ulong RamSize = 4 << 20;

    private ulong _next = 0x10_0000;

    public TestMemory()
    {
        Memory = GuestMemory.Create([(GuestAddress.Zero, RamSize)]);
    }

    public GuestMemory Memory { get; }

    /// <summary>Queue rings live at 0x1000 * (1 + 16 * index).</summary>
    public static GuestAddress RingBase(int queueIndex) => new(0x1000 + (0x10000UL * (ulong)queueIndex));

    public GuestAddress Allocate(ulong length, ulong alignment = 16)
    {
        var address = new GuestAddress(_next).AlignUp(alignment);
        _next = address.Value + length;
        if (_next > RamSize)
        {
            throw new InvalidOperationException("test memory exhausted");
        }

        return address;
    }

    public GuestAddress AllocateFilled(byte[] content)
    {
        var address = Allocate((ulong)content.Length);
        Memory.Write(address, content);
        return address;
    }

    public byte[] ReadBytes(GuestAddress address, int length)
    {
        var data = new byte[length];
        Memory.Read(address, data);
        return data;
    }

    public void Dispose() => Memory.Dispose();
}
