using System.Buffers.Binary;
using ActorVmm.Devices.Virtio;
using ActorVmm.Kvm.Memory;

namespace ActorVmm.TestSupport.Virtio;

/// <summary>
/// The driver side of a split virtqueue, laid out in guest memory the way Linux does it: descriptor table, avail
/// ring right after it, used ring on the next page. Tests use it to post (good and bad) chains and read completions.
/// </summary>
public sealed class MockVirtqueue
{
    private readonly GuestMemory _memory;
    private ushort _nextDescriptor;

    public MockVirtqueue(GuestMemory memory, GuestAddress baseAddress, ushort size)
    {
        _memory = memory;
        Size = size;
        Desc = baseAddress;
        Avail = baseAddress.CheckedAdd(16UL * size);
        Used = Avail.CheckedAdd(6UL + (2UL * size)).AlignUp(4096);
    }

    public ushort Size { get; }

    public GuestAddress Desc { get; }

    public GuestAddress Avail { get; }

    public GuestAddress Used { get; }

    public ushort AvailIdx { get; private set; }

    public ushort UsedIdx => _memory.Read<ushort>(Used.CheckedAdd(2));

    public ushort UsedFlags => _memory.Read<ushort>(Used);

    public ushort AvailEvent => _memory.Read<ushort>(Used.CheckedAdd(4 + (8UL * Size)));

    /// <summary>A device-side queue configured for these rings and made ready.</summary>
    public Virtqueue CreateDeviceQueue(bool eventIdx = false, bool indirect = true, VirtqueueLimits? limits = null)
    {
        var q = new Virtqueue(Size, limits)
        {
            DescTable = Desc,
            AvailRing = Avail,
            UsedRing = Used,
            EventIdxEnabled = eventIdx,
            IndirectEnabled = indirect,
        };
        if (!q.TrySetReady(_memory, out var error))
        {
            throw new InvalidOperationException(error);
        }

        return q;
    }

    public void WriteDescriptor(ushort index, ulong address, uint length, ushort flags, ushort next) =>
        WriteDescriptorAt(Desc, index, address, length, flags, next);

    public void WriteDescriptorAt(GuestAddress table, int index, ulong address, uint length, ushort flags, ushort next)
    {
        Span<byte> raw = stackalloc byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(raw, address);
        BinaryPrimitives.WriteUInt32LittleEndian(raw[8..], length);
        BinaryPrimitives.WriteUInt16LittleEndian(raw[12..], flags);
        BinaryPrimitives.WriteUInt16LittleEndian(raw[14..], next);
        _memory.Write(table.CheckedAdd(16UL * (ulong)index), raw);
    }

    /// <summary>Puts <paramref name="head"/> in the avail ring and publishes it (avail idx + 1).</summary>
    public void Publish(ushort head)
    {
        _memory.Write(Avail.CheckedAdd(4 + (2UL * (ulong)(AvailIdx % Size))), head);
        AvailIdx++;
        _memory.Write(Avail.CheckedAdd(2), AvailIdx);
    }

    public void SetAvailIdx(ushort idx)
    {
        AvailIdx = idx;
        _memory.Write(Avail.CheckedAdd(2), idx);
    }

    public void SetAvailFlags(ushort flags) => _memory.Write(Avail, flags);

    public void SetUsedEvent(ushort value) => _memory.Write(Avail.CheckedAdd(4 + (2UL * Size)), value);

    /// <summary>Posts a chain of direct descriptors (readable ones first, as given) and returns its head.</summary>
    public ushort AddChain(params Buf[] buffers)
    {
        var head = Reserve(buffers.Length);
        for (var i = 0; i < buffers.Length; i++)
        {
            var b = buffers[i];
            var flags = (ushort)((b.IsWritable ? Descriptor.FlagWrite : 0) | (i + 1 < buffers.Length ? Descriptor.FlagNext : 0));
            WriteDescriptor((ushort)(head + i), b.Address.Value, b.Length, flags, (ushort)(head + i + 1));
        }

        Publish(head);
        return head;
    }

    /// <summary>Posts one indirect descriptor whose table (at <paramref name="table"/>) holds <paramref name="buffers"/>.</summary>
    public ushort AddIndirectChain(GuestAddress table, params Buf[] buffers)
    {
        for (var i = 0; i < buffers.Length; i++)
        {
            var b = buffers[i];
            var flags = (ushort)((b.IsWritable ? Descriptor.FlagWrite : 0) | (i + 1 < buffers.Length ? Descriptor.FlagNext : 0));
            WriteDescriptorAt(table, i, b.Address.Value, b.Length, flags, (ushort)(i + 1));
        }

        var head = Reserve(1);
        WriteDescriptor(head, table.Value, (uint)(16 * buffers.Length), Descriptor.FlagIndirect, 0);
        Publish(head);
        return head;
    }

    /// <summary>The used element at position <paramref name="position"/> (id, written length).</summary>
    public (uint Id, uint Length) ReadUsed(int position)
    {
        var slot = Used.CheckedAdd(4 + (8UL * (ulong)(position % Size)));
        return (_memory.Read<uint>(slot), _memory.Read<uint>(slot.CheckedAdd(4)));
    }

    public ushort Reserve(int count)
    {
        if (_nextDescriptor + count > Size)
        {
            _nextDescriptor = 0;
        }

        var head = _nextDescriptor;
        _nextDescriptor += (ushort)count;
        return head;
    }

    public readonly record struct Buf(GuestAddress Address, uint Length, bool IsWritable)
    {
        public static Buf Readable(GuestAddress address, uint length) => new(address, length, false);

        public static Buf Writable(GuestAddress address, uint length) => new(address, length, true);
    }
}
