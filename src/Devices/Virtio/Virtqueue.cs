using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using ActorVmm.Kvm.Memory;

namespace ActorVmm.Devices.Virtio;

// One file over 400 lines: the split ring's pop, chain walk and used-ring update share the ring state and its bounds checks.

/// <summary>
/// A split virtqueue (virtio 1.x, section 2.7) as the device sees it. It does not own guest memory: every
/// operation takes the <see cref="GuestMemory"/> to work on. Not thread-safe; the owning transport serialises.
/// Everything the guest supplies is untrusted: a malformed chain is returned to the used ring with length 0 and
/// counted in <see cref="GuestErrors"/>; a corrupt ring (avail index running ahead, head index out of range)
/// marks the queue <see cref="Broken"/> so the transport can set DEVICE_NEEDS_RESET. Nothing loops unbounded.
/// </summary>
public sealed class Virtqueue
{
    /// <summary>VRING_AVAIL_F_NO_INTERRUPT.</summary>
    public const ushort AvailFlagNoInterrupt = 1;

    /// <summary>VRING_USED_F_NO_NOTIFY.</summary>
    public const ushort UsedFlagNoNotify = 1;

    private readonly VirtqueueLimits _limits;
    private ushort? _signalledUsed;
    private long _guestErrors;
    private volatile bool _quiescing;
    private DescriptorChain? _outstanding;
    private int _failedOnce = -1;
    private int _notifyAt = -1;

    public Virtqueue(ushort maxSize, VirtqueueLimits? limits = null)
    {
        if (maxSize == 0 || maxSize > 32768 || (maxSize & (maxSize - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(maxSize), maxSize, "queue size must be a power of two in 1..32768");
        }

        MaxSize = maxSize;
        _limits = limits ?? VirtqueueLimits.Default;
        Size = maxSize;
    }

    public ushort MaxSize { get; }

    /// <summary>The size the driver chose (validated when it sets the queue ready).</summary>
    public ushort Size { get; set; }

    public bool Ready { get; private set; }

    public GuestAddress DescTable { get; set; }

    public GuestAddress AvailRing { get; set; }

    public GuestAddress UsedRing { get; set; }

    public ushort NextAvail { get; private set; }

    public ushort NextUsed { get; private set; }

    /// <summary>VIRTIO_F_EVENT_IDX was negotiated.</summary>
    public bool EventIdxEnabled { get; set; }

    /// <summary>VIRTIO_RING_F_INDIRECT_DESC was negotiated; without it an indirect descriptor is a guest error.</summary>
    public bool IndirectEnabled { get; set; }

    /// <summary>The guest corrupted the ring; the queue does nothing until reset.</summary>
    public bool Broken { get; private set; }

    /// <summary>
    /// Set by the transport (from any thread) when a reset, restart or stop is waiting for this queue's worker:
    /// <see cref="TryPop"/> then returns null, so a pass ends after the request it is serving.
    /// </summary>
    public bool Quiescing
    {
        get => _quiescing;
        set => _quiescing = value;
    }

    /// <summary>A chain was popped and neither completed (<see cref="AddUsed"/>) nor put back (<see cref="UndoPop"/>).</summary>
    public bool PopOutstanding => _outstanding is not null;

    /// <summary>The chain popped and not yet completed or put back, if any.</summary>
    public DescriptorChain? OutstandingChain => _outstanding;

    /// <summary>Why the queue broke, for logs.</summary>
    public string? BrokenReason { get; private set; }

    /// <summary>Malformed chains failed on this queue.</summary>
    public long GuestErrors => Interlocked.Read(ref _guestErrors);

    /// <summary>Bytes the descriptor table, avail ring and used ring occupy for <paramref name="size"/> entries.</summary>
    public static (ulong Desc, ulong Avail, ulong Used) RingSizes(ushort size) =>
        (16UL * size, 6UL + (2UL * size), 6UL + (8UL * size));

    /// <summary>
    /// Checks the driver's configuration and makes the queue ready: size a power of two no larger than
    /// <see cref="MaxSize"/>, rings aligned (16/2/4) and wholly inside guest memory. Returns the reason on failure.
    /// </summary>
    public bool TrySetReady(GuestMemory memory, out string? error)
    {
        error = Validate(memory);
        if (error is not null)
        {
            Interlocked.Increment(ref _guestErrors);
            Ready = false;
            return false;
        }

        Ready = true;
        return true;
    }

    /// <summary>Back to the power-on state (not ready, positions zero).</summary>
    public void Reset()
    {
        Size = MaxSize;
        Ready = false;
        DescTable = AvailRing = UsedRing = GuestAddress.Zero;
        NextAvail = NextUsed = 0;
        EventIdxEnabled = IndirectEnabled = false;
        _signalledUsed = null;
        Broken = false;
        BrokenReason = null;
        _outstanding = null;
        _failedOnce = -1;
        _notifyAt = -1;
    }

    /// <summary>
    /// Serving the outstanding chain threw: it is put back so it is served again, once. Returns false when that chain
    /// (the same ring position) already failed once: the caller completes it as failed instead.
    /// </summary>
    public bool PutBackFailed()
    {
        if (_outstanding is null)
        {
            return true;
        }

        var position = (ushort)(NextAvail - 1);
        if (_failedOnce == position)
        {
            return false;
        }

        _failedOnce = position;
        UndoPop();
        return true;
    }

    /// <summary>
    /// Pops the next available chain, or null when none is available (or the queue is not ready or broken).
    /// Malformed chains are completed with length 0 and skipped; at most <see cref="Size"/> are skipped per call.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public DescriptorChain? TryPop(GuestMemory memory)
    {
        if (!Ready || Broken || _quiescing)
        {
            return null;
        }

        try
        {
            for (var attempt = 0; attempt <= Size; attempt++)
            {
                var availIdx = memory.LoadAcquireU16(AvailRing.CheckedAdd(2));
                var pending = (ushort)(availIdx - NextAvail);
                if (pending == 0)
                {
                    return null;
                }

                if (pending > Size)
                {
                    MarkBroken($"avail idx {availIdx} is {pending} entries ahead of {NextAvail} (queue size {Size})");
                    return null;
                }

                var slot = AvailRing.CheckedAdd(4 + (2UL * (ulong)(NextAvail % Size)));
                var head = memory.Read<ushort>(slot);
                if (head >= Size)
                {
                    MarkBroken($"avail ring head {head} is outside the queue of size {Size}");
                    return null;
                }

                NextAvail++;
                var chain = ParseChain(memory, head, out var error);
                if (chain is not null)
                {
                    _outstanding = chain;
                    _notifyAt = -1;
                    return chain;
                }

                Interlocked.Increment(ref _guestErrors);
                LastError = error;
                AddUsed(memory, head, 0);
            }
        }
        catch (GuestMemoryException ex)
        {
            MarkBroken(ex.Message);
        }

        return null;
    }

    /// <summary>Chains the guest made available that were not popped yet (0 when not ready, broken, or the index is garbage).</summary>
    public int Waiting(GuestMemory memory)
    {
        if (!Ready || Broken)
        {
            return 0;
        }

        try
        {
            var pending = (ushort)(memory.LoadAcquireU16(AvailRing.CheckedAdd(2)) - NextAvail);
            return pending <= Size ? pending : 0;
        }
        catch (GuestMemoryException)
        {
            return 0;
        }
    }

    /// <summary>The most recent reason a chain was failed, for logs.</summary>
    public string? LastError { get; private set; }

    /// <summary>Counts a malformed request a device found inside an otherwise valid chain.</summary>
    public void ReportGuestError(string reason)
    {
        Interlocked.Increment(ref _guestErrors);
        LastError = reason;
    }

    /// <summary>Puts the chain at <see cref="NextAvail"/> back (a device that could not serve it yet).</summary>
    public void UndoPop()
    {
        NextAvail--;
        _outstanding = null;
    }

    /// <summary>Where completed chains are counted (shared across device restarts); null: not counted.</summary>
    public VirtqueueTraffic? Traffic { get; set; }

    /// <summary>Hands a chain back: writes the used element, then publishes the used index with release ordering.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void AddUsed(GuestMemory memory, ushort headIndex, uint writtenLength)
    {
        _outstanding = null;
        if (!Ready || Broken)
        {
            return;
        }

        try
        {
            var slot = UsedRing.CheckedAdd(4 + (8UL * (ulong)(NextUsed % Size)));
            Span<byte> element = stackalloc byte[8];
            BinaryPrimitives.WriteUInt32LittleEndian(element, headIndex);
            BinaryPrimitives.WriteUInt32LittleEndian(element[4..], writtenLength);
            memory.Write(slot, element);
            NextUsed++;
            memory.StoreReleaseU16(UsedRing.CheckedAdd(2), NextUsed);
            Traffic?.Count(writtenLength);
        }
        catch (GuestMemoryException ex)
        {
            MarkBroken(ex.Message);
        }
    }

    /// <summary>
    /// Hands several chains back at once (e.g. the buffers of one merged virtio-net frame): writes every used element,
    /// then publishes the used index once, so the driver never sees part of the batch.
    /// </summary>
    public void AddUsedBatch(GuestMemory memory, ReadOnlySpan<(ushort HeadIndex, uint Length)> entries)
    {
        _outstanding = null;
        if (!Ready || Broken || entries.IsEmpty)
        {
            return;
        }

        try
        {
            Span<byte> element = stackalloc byte[8];
            var next = NextUsed;
            foreach (var (head, length) in entries)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(element, head);
                BinaryPrimitives.WriteUInt32LittleEndian(element[4..], length);
                memory.Write(UsedRing.CheckedAdd(4 + (8UL * (ulong)(next % Size))), element);
                next++;
            }

            NextUsed = next;
            memory.StoreReleaseU16(UsedRing.CheckedAdd(2), NextUsed);
            foreach (var entry in entries)
            {
                Traffic?.Count(entry.Length);
            }
        }
        catch (GuestMemoryException ex)
        {
            MarkBroken(ex.Message);
        }
    }

    /// <summary>
    /// The device put back what was available because it is too little for its next request (a frame that needs
    /// more buffers): until the next pop, <see cref="EnableNotification"/> asks the driver to notify when it adds
    /// more, not at <see cref="NextAvail"/> (already passed). Returns true when the driver added buffers meanwhile,
    /// so the device must look again now (no notification is coming for those).
    /// </summary>
    public bool WaitForMoreBuffers(GuestMemory memory)
    {
        if (!Ready || Broken)
        {
            return false;
        }

        try
        {
            var seen = memory.LoadAcquireU16(AvailRing.CheckedAdd(2));
            _notifyAt = seen;
            EnableNotification(memory);
            return memory.LoadAcquireU16(AvailRing.CheckedAdd(2)) != seen;
        }
        catch (GuestMemoryException ex)
        {
            MarkBroken(ex.Message);
            return false;
        }
    }

    /// <summary>
    /// Whether the driver wants an interrupt for what was added since the last call: with EVENT_IDX, when the used
    /// index crossed used_event; without it, unless VRING_AVAIL_F_NO_INTERRUPT is set.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool NeedsNotification(GuestMemory memory)
    {
        if (!Ready || Broken)
        {
            return false;
        }

        // The used index store must be visible before the driver's used_event / flags are read.
        Interlocked.MemoryBarrier();
        try
        {
            if (EventIdxEnabled)
            {
                var usedEvent = memory.LoadAcquireU16(AvailRing.CheckedAdd(4 + (2UL * Size)));
                var old = _signalledUsed;
                var now = NextUsed;
                _signalledUsed = now;
                if (old is null)
                {
                    return true;
                }

                return (ushort)(now - usedEvent - 1) < (ushort)(now - old.Value);
            }

            _signalledUsed = NextUsed;
            var flags = memory.LoadAcquireU16(AvailRing);
            return (flags & AvailFlagNoInterrupt) == 0;
        }
        catch (GuestMemoryException ex)
        {
            MarkBroken(ex.Message);
            return false;
        }
    }

    /// <summary>
    /// Used buffers were added since the last <see cref="NeedsNotification"/> (e.g. by a device instance that crashed
    /// mid-batch, before it could signal them): ask <see cref="NeedsNotification"/> before the driver waits forever.
    /// </summary>
    public bool HasUnsignalledUsed => Ready && !Broken && (_signalledUsed ?? 0) != NextUsed;

    /// <summary>
    /// Asks the driver to notify for the next buffer (avail_event = next_avail with EVENT_IDX, otherwise clears
    /// VRING_USED_F_NO_NOTIFY). Returns true when buffers are already available, so the device must look again.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool EnableNotification(GuestMemory memory)
    {
        if (!Ready || Broken)
        {
            return false;
        }

        try
        {
            if (EventIdxEnabled)
            {
                memory.StoreReleaseU16(UsedRing.CheckedAdd(4 + (8UL * Size)), _notifyAt >= 0 ? (ushort)_notifyAt : NextAvail);
            }
            else
            {
                memory.StoreReleaseU16(UsedRing, 0);
            }

            Interlocked.MemoryBarrier();
            return memory.LoadAcquireU16(AvailRing.CheckedAdd(2)) != NextAvail;
        }
        catch (GuestMemoryException ex)
        {
            MarkBroken(ex.Message);
            return false;
        }
    }

    /// <summary>Asks the driver not to notify (VRING_USED_F_NO_NOTIFY; a no-op with EVENT_IDX).</summary>
    public void DisableNotification(GuestMemory memory)
    {
        if (!Ready || Broken || EventIdxEnabled)
        {
            return;
        }

        try
        {
            memory.StoreReleaseU16(UsedRing, UsedFlagNoNotify);
        }
        catch (GuestMemoryException ex)
        {
            MarkBroken(ex.Message);
        }
    }

    public VirtqueueState SaveState() => new(
        Size, Ready, DescTable.Value, AvailRing.Value, UsedRing.Value, NextAvail, NextUsed,
        EventIdxEnabled, IndirectEnabled, _signalledUsed, Broken)
    {
        FailedOnce = _failedOnce < 0 ? null : (ushort)_failedOnce,
    };

    public void RestoreState(VirtqueueState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        Size = state.Size;
        Ready = state.Ready;
        DescTable = new GuestAddress(state.DescTable);
        AvailRing = new GuestAddress(state.AvailRing);
        UsedRing = new GuestAddress(state.UsedRing);
        NextAvail = state.NextAvail;
        NextUsed = state.NextUsed;
        EventIdxEnabled = state.EventIdxEnabled;
        IndirectEnabled = state.IndirectEnabled;
        _signalledUsed = state.SignalledUsed;
        Broken = state.Broken;
        BrokenReason = state.Broken ? "restored broken" : null;
        _outstanding = null;
        _failedOnce = state.FailedOnce ?? -1;
        _notifyAt = -1;
    }

    private string? Validate(GuestMemory memory)
    {
        if (Size == 0 || Size > MaxSize || (Size & (Size - 1)) != 0)
        {
            return $"queue size {Size} is not a power of two in 1..{MaxSize}";
        }

        if (DescTable.Value % 16 != 0 || AvailRing.Value % 2 != 0 || UsedRing.Value % 4 != 0)
        {
            return $"rings desc={DescTable} avail={AvailRing} used={UsedRing} are misaligned";
        }

        var (desc, avail, used) = RingSizes(Size);
        if (!memory.IsValidRange(DescTable, desc) || !memory.IsValidRange(AvailRing, avail)
            || !memory.IsValidRange(UsedRing, used))
        {
            return $"rings desc={DescTable} avail={AvailRing} used={UsedRing} lie outside guest memory";
        }

        return null;
    }

    private void MarkBroken(string reason)
    {
        if (!Broken)
        {
            Interlocked.Increment(ref _guestErrors);
        }

        Broken = true;
        BrokenReason = reason;
    }

    // Scratch for ParseChain (the owning transport serialises all calls): the chain's descriptors as they are
    // validated, and an indirect table copied out of guest memory in one read (a snapshot the guest cannot change
    // under the walk, and one bounds check instead of one per entry).
    private Descriptor[] _chainScratch = new Descriptor[16];
    private byte[] _tableScratch = [];

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private DescriptorChain? ParseChain(GuestMemory memory, ushort head, out string? error)
    {
        var count = 0;
        var readable = 0;
        var seenWritable = false;
        ulong total = 0;
        var table = DescTable;
        int tableSize = Size;
        ReadOnlySpan<byte> indirect = default;
        var inIndirect = false;
        var index = head;
        var visited = 0;
        Span<byte> direct = stackalloc byte[Descriptor.Size];
        while (true)
        {
            if (index >= tableSize)
            {
                error = $"descriptor index {index} is outside a table of {tableSize}";
                return null;
            }

            if (++visited > tableSize)
            {
                error = $"chain from head {head} is longer than its table of {tableSize} (a loop?)";
                return null;
            }

            scoped ReadOnlySpan<byte> raw;
            if (inIndirect)
            {
                raw = indirect.Slice(index * Descriptor.Size, Descriptor.Size);
            }
            else if (memory.TryRead(table.CheckedAdd((ulong)index * Descriptor.Size), direct))
            {
                raw = direct;
            }
            else
            {
                error = $"descriptor {index} lies outside guest memory";
                return null;
            }

            var d = new Descriptor(
                new GuestAddress(BinaryPrimitives.ReadUInt64LittleEndian(raw)),
                BinaryPrimitives.ReadUInt32LittleEndian(raw[8..]),
                BinaryPrimitives.ReadUInt16LittleEndian(raw[12..]),
                BinaryPrimitives.ReadUInt16LittleEndian(raw[14..]));

            if (d.IsIndirect)
            {
                if (!IndirectEnabled)
                {
                    error = "indirect descriptor without VIRTIO_RING_F_INDIRECT_DESC";
                    return null;
                }

                if (inIndirect)
                {
                    error = "indirect descriptor inside an indirect table";
                    return null;
                }

                if (d.HasNext)
                {
                    error = "indirect descriptor with NEXT set";
                    return null;
                }

                if (d.Length == 0 || d.Length % Descriptor.Size != 0
                    || d.Length / Descriptor.Size > (uint)_limits.MaxIndirectDescriptors)
                {
                    error = $"indirect table length {d.Length} is not a non-zero multiple of 16 up to {_limits.MaxIndirectDescriptors} entries";
                    return null;
                }

                if (_tableScratch.Length < (int)d.Length)
                {
                    _tableScratch = new byte[d.Length];
                }

                var copy = _tableScratch.AsSpan(0, (int)d.Length);
                if (!memory.TryRead(d.Address, copy))
                {
                    error = $"indirect table {d.Address}+{d.Length} lies outside guest memory";
                    return null;
                }

                indirect = copy;
                table = d.Address;
                tableSize = (int)(d.Length / Descriptor.Size);
                inIndirect = true;
                index = 0;
                visited = 0;
                continue;
            }

            if (d.Length == 0 || d.Length > _limits.MaxDescriptorLength)
            {
                error = $"descriptor length {d.Length} is outside 1..{_limits.MaxDescriptorLength}";
                return null;
            }

            total += d.Length;
            if (total > _limits.MaxChainLength)
            {
                error = $"chain carries more than {_limits.MaxChainLength} bytes";
                return null;
            }

            if (!memory.IsValidRange(d.Address, d.Length))
            {
                error = $"buffer {d.Address}+{d.Length} lies outside guest memory";
                return null;
            }

            if (d.IsWriteOnly)
            {
                seenWritable = true;
            }
            else if (seenWritable)
            {
                error = "device-readable descriptor after a device-writable one";
                return null;
            }
            else
            {
                readable++;
            }

            if (count == _chainScratch.Length)
            {
                Array.Resize(ref _chainScratch, count * 2);
            }

            _chainScratch[count++] = d;
            if (!d.HasNext)
            {
                break;
            }

            index = d.Next;
        }

        error = null;
        return new DescriptorChain(head, _chainScratch.AsSpan(0, count).ToArray(), readable);
    }
}
