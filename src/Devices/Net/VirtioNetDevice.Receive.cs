using System.Buffers.Binary;
using ActorVmm.Devices.Virtio;
using ActorVmm.Kvm.Memory;

namespace ActorVmm.Devices.Net;

/// <summary>
/// The receive side: frames from the port, finished for the driver (<see cref="NetOffload"/>), written into the
/// guest's receive buffers. Without MRG_RXBUF a frame takes one chain, and a frame larger than the chain is dropped
/// (the chain is put back for the next frame). With MRG_RXBUF a frame spreads over as many chains as it needs; its used
/// entries are published together, and when the ring holds too few buffers they are put back until the driver adds
/// more. A chain that cannot hold even a header and an Ethernet header (or no writable byte) is completed with length
/// 0, which Linux counts as a length error and refills.
/// </summary>
public sealed partial class VirtioNetDevice
{
    // The frames (one port frame, or its segments) the guest had no room for yet; touched only by receive passes and,
    // with no pass running, by Reset / Save / Restore.
    private readonly List<byte[]> _held = [];
    private int _heldNext;
    private int _heldCount;
    private readonly List<DescriptorChain> _chains = [];
    private (ushort HeadIndex, uint Length)[] _used = new (ushort, uint)[16];
    private long _rxFrames;
    private long _rxBytes;
    private long _rxTooLarge;
    private long _rxUnusable;
    private long _rxBadBuffers;

    private enum Delivery
    {
        Delivered,
        Dropped,
        BadBuffer,
        Retry,
        NoBuffers,
    }

    /// <summary>Frames written to the guest.</summary>
    public long RxFrames => Interlocked.Read(ref _rxFrames);

    /// <summary>Ethernet bytes written to the guest (virtio headers not counted).</summary>
    public long RxBytes => Interlocked.Read(ref _rxBytes);

    /// <summary>Frames dropped because the guest's buffers could never hold them (too small a chain, too few buffers).</summary>
    public long RxTooLarge => Interlocked.Read(ref _rxTooLarge);

    /// <summary>Frames from the port dropped as malformed, or with an offload the driver declined and software cannot finish.</summary>
    public long RxUnusable => Interlocked.Read(ref _rxUnusable);

    /// <summary>Receive chains the guest posted that cannot hold a frame (completed with length 0).</summary>
    public long RxBadBuffers => Interlocked.Read(ref _rxBadBuffers);

    /// <summary>All frames dropped on the way to the guest.</summary>
    public long RxDropped => RxTooLarge + RxUnusable;

    /// <summary>Frames held for the guest until it posts buffers (the segments of at most one port frame).</summary>
    public int HeldFrames => Volatile.Read(ref _heldCount);

    /// <summary>The frames held for the guest, each as a little-endian 32-bit length and its bytes; null when none.</summary>
    public object? SaveDeviceState()
    {
        if (_heldNext >= _held.Count)
        {
            return null;
        }

        var size = 0;
        for (var i = _heldNext; i < _held.Count; i++)
        {
            size += 4 + _held[i].Length;
        }

        var state = new byte[size];
        var at = 0;
        for (var i = _heldNext; i < _held.Count; i++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(state.AsSpan(at), _held[i].Length);
            _held[i].CopyTo(state, at + 4);
            at += 4 + _held[i].Length;
        }

        return state;
    }

    /// <summary>Takes back frames <see cref="SaveDeviceState"/> wrote; a malformed remainder is ignored.</summary>
    public void RestoreDeviceState(object? state)
    {
        ClearHeld();
        if (state is not byte[] bytes)
        {
            return;
        }

        var rest = bytes.AsSpan();
        while (rest.Length >= 4 && _held.Count < NetOffload.MaxSegments)
        {
            var length = BinaryPrimitives.ReadInt32LittleEndian(rest);
            if (length < NetFrame.HeaderSize + NetFrame.EthernetHeaderSize || length > NetFrame.MaxSize || length > rest.Length - 4)
            {
                break;
            }

            _held.Add(rest.Slice(4, length).ToArray());
            rest = rest[(4 + length)..];
        }

        Volatile.Write(ref _heldCount, _held.Count);
    }

    private void ClearHeld()
    {
        _held.Clear();
        _heldNext = 0;
        Volatile.Write(ref _heldCount, 0);
    }

    private bool Receive(Virtqueue queue, GuestMemory memory)
    {
        var context = _context;
        if (context is null)
        {
            return false;
        }

        var acked = context.AckedFeatures;
        var merged = (acked & VirtioNetFeatures.MrgRxBuf) != 0;
        var added = false;
        var budget = (int)queue.Size;
        for (; budget > 0; budget--)
        {
            if (_heldNext >= _held.Count && !TryTakeFromPort(acked))
            {
                if (_port.PendingFrames == 0)
                {
                    break;
                }

                continue;
            }

            var frame = _held[_heldNext];
            var outcome = merged ? DeliverMerged(queue, memory, frame) : DeliverSingle(queue, memory, frame);
            if (outcome == Delivery.NoBuffers)
            {
                break;
            }

            added |= outcome is Delivery.Delivered or Delivery.BadBuffer;
            if (outcome is Delivery.Delivered or Delivery.Dropped)
            {
                _held[_heldNext++] = [];
                if (_heldNext >= _held.Count)
                {
                    ClearHeld();
                }
                else
                {
                    Volatile.Write(ref _heldCount, _held.Count - _heldNext);
                }
            }
        }

        if (budget == 0 && (_heldNext < _held.Count || _port.PendingFrames > 0))
        {
            // Out of budget with frames left: another pass follows (no kick or arrival may come for them).
            context.RequestProcessing(ReceiveQueue);
        }

        return added;
    }

    /// <summary>Takes the next port frame and finishes it for the driver; false when none came or it was dropped.</summary>
    private bool TryTakeFromPort(ulong acked)
    {
        if (!_port.TryReceive(out var raw))
        {
            return false;
        }

        ClearHeld();
        if (!NetOffload.TryFinalize(raw, acked, _held))
        {
            _held.Clear();
            Interlocked.Increment(ref _rxUnusable);
            return false;
        }

        Volatile.Write(ref _heldCount, _held.Count);
        return true;
    }

    private Delivery DeliverSingle(Virtqueue queue, GuestMemory memory, byte[] frame)
    {
        var chain = queue.TryPop(memory);
        if (chain is null)
        {
            return Delivery.NoBuffers;
        }

        if (chain.WritableLength < NetFrame.HeaderSize + NetFrame.EthernetHeaderSize)
        {
            return RejectBuffer(queue, memory, chain);
        }

        if (chain.WritableLength < (ulong)frame.Length)
        {
            // Too large for the buffers this driver posts: drop it and keep the chain for the next frame.
            queue.UndoPop();
            Interlocked.Increment(ref _rxTooLarge);
            return Delivery.Dropped;
        }

        var written = WriteFrame(chain, memory, frame, 0, frame.Length, 1);
        queue.AddUsed(memory, chain.HeadIndex, (uint)written);
        Count(frame, written);
        return Delivery.Delivered;
    }

    private Delivery DeliverMerged(Virtqueue queue, GuestMemory memory, byte[] frame)
    {
        _chains.Clear();
        ulong room = 0;
        var start = queue.NextAvail;
        var skipped = false;
        while (room < (ulong)frame.Length && (ushort)(queue.NextAvail - start) < queue.Size)
        {
            var before = queue.NextAvail;
            var chain = queue.TryPop(memory);
            skipped |= _chains.Count > 0 && (ushort)(queue.NextAvail - before) != (chain is null ? 0 : 1);
            if (chain is null)
            {
                break;
            }

            var minimum = _chains.Count == 0 ? NetFrame.HeaderSize + NetFrame.EthernetHeaderSize : 1;
            if (chain.WritableLength < (ulong)minimum)
            {
                skipped |= _chains.Count > 0;
                RejectBuffer(queue, memory, chain);
                continue;
            }

            _chains.Add(chain);
            room += chain.WritableLength;
        }

        if (room >= (ulong)frame.Length)
        {
            WriteMerged(queue, memory, frame);
            return Delivery.Delivered;
        }

        var ringFull = (ushort)(queue.NextAvail - start) >= queue.Size;
        PutBack(queue, memory, skipped);
        if (ringFull)
        {
            // Every buffer the ring can hold is not enough: waiting would stall the queue for good.
            Interlocked.Increment(ref _rxTooLarge);
            return Delivery.Dropped;
        }

        if (skipped)
        {
            // The chains were completed empty (see PutBack): try again with the next ones.
            return Delivery.BadBuffer;
        }

        return queue.WaitForMoreBuffers(memory) ? Delivery.Retry : Delivery.NoBuffers;
    }

    private void WriteMerged(Virtqueue queue, GuestMemory memory, byte[] frame)
    {
        if (_used.Length < _chains.Count)
        {
            _used = new (ushort, uint)[Math.Max(_chains.Count, _used.Length * 2)];
        }

        var offset = 0;
        var written = 0;
        for (var i = 0; i < _chains.Count; i++)
        {
            var chain = _chains[i];
            var n = (int)Math.Min(chain.WritableLength, (ulong)(frame.Length - offset));
            var w = WriteFrame(chain, memory, frame, offset, n, (ushort)_chains.Count);
            _used[i] = (chain.HeadIndex, (uint)w);
            offset += n;
            written += w;
        }

        queue.AddUsedBatch(memory, _used.AsSpan(0, _chains.Count));
        _chains.Clear();
        Count(frame, written);
    }

    /// <summary>
    /// Returns the chains popped for a frame that does not fit yet. When the driver's malformed chains were completed
    /// in between, the positions cannot be rewound without completing those twice: the chains are completed empty.
    /// </summary>
    private void PutBack(Virtqueue queue, GuestMemory memory, bool skipped)
    {
        if (!skipped)
        {
            for (var i = 0; i < _chains.Count; i++)
            {
                queue.UndoPop();
            }
        }
        else if (_chains.Count > 0)
        {
            if (_used.Length < _chains.Count)
            {
                _used = new (ushort, uint)[_chains.Count];
            }

            for (var i = 0; i < _chains.Count; i++)
            {
                _used[i] = (_chains[i].HeadIndex, 0);
            }

            queue.ReportGuestError("virtio-net receive buffers around malformed chains completed empty");
            queue.AddUsedBatch(memory, _used.AsSpan(0, _chains.Count));
        }

        _chains.Clear();
    }

    /// <summary>
    /// Writes bytes [offset, offset + length) of <paramref name="frame"/> into the chain; the header (at offset 0) with
    /// <paramref name="numBuffers"/>, from a copy, since the frame may be shared. Returns the bytes written.
    /// </summary>
    private static int WriteFrame(DescriptorChain chain, GuestMemory memory, byte[] frame, int offset, int length, ushort numBuffers)
    {
        if (offset != 0)
        {
            return chain.Write(memory, 0, frame.AsSpan(offset, length));
        }

        Span<byte> header = stackalloc byte[NetFrame.HeaderSize];
        frame.AsSpan(0, NetFrame.HeaderSize).CopyTo(header);
        VirtioNetHeader.SetNumBuffers(header, numBuffers);
        var written = chain.Write(memory, 0, header);
        return written < header.Length
            ? written
            : written + chain.Write(memory, NetFrame.HeaderSize, frame.AsSpan(NetFrame.HeaderSize, length - NetFrame.HeaderSize));
    }

    private Delivery RejectBuffer(Virtqueue queue, GuestMemory memory, DescriptorChain chain)
    {
        queue.ReportGuestError("virtio-net receive buffer cannot hold a virtio header and an Ethernet header");
        queue.AddUsed(memory, chain.HeadIndex, 0);
        Interlocked.Increment(ref _rxBadBuffers);
        return Delivery.BadBuffer;
    }

    private void Count(byte[] frame, int written)
    {
        Interlocked.Increment(ref _rxFrames);
        Interlocked.Add(ref _rxBytes, Math.Max(0, Math.Min(written, frame.Length) - NetFrame.HeaderSize));
    }
}
