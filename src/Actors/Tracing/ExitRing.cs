using System.Runtime.CompilerServices;

namespace ActorVmm.Actors.Tracing;

/// <summary>
/// A bounded single-producer (one vCPU thread) single-consumer (the trace writer thread) ring of
/// <see cref="ExitRecord"/>s. Writing never waits and never allocates: when the ring is full the record is dropped
/// and counted. The consumer reads records in place and releases them after writing, so at most
/// <see cref="Capacity"/> records are ever held. The memory comes in segments of <see cref="SegmentSize"/> records,
/// allocated as the producer approaches them — by the consumer (<see cref="PrepareAhead"/>), so the vCPU thread does
/// not allocate, zero and fault in fresh memory; only if the consumer lags does the producer allocate one itself.
/// A large buffer costs memory only once it is used.
/// </summary>
internal sealed class ExitRing
{
    /// <summary>Records per segment (256 KiB).</summary>
    public const int SegmentSize = 4096;

    private readonly ExitRecord[]?[] _segments;
    private readonly long _mask;
    private readonly int _segmentShift;
    private readonly int _segmentMask;
    private readonly int _capacity;
    private Padded _tail;      // written by the producer only
    private Padded _head;      // written by the consumer only
    private long _cachedHead;  // producer's last view of _head
    private long _dropped;     // written by the producer only

    /// <param name="capacity">Records held before dropping (rounded up to a power of two, at least 2).</param>
    public ExitRing(int capacity)
    {
        var size = (int)Math.Min(1L << 30, Math.Max(2, (long)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(1, capacity))));
        _capacity = size;
        _mask = size - 1;
        var segment = Math.Min(size, SegmentSize);
        _segmentShift = System.Numerics.BitOperations.Log2((uint)segment);
        _segmentMask = segment - 1;
        _segments = new ExitRecord[]?[size / segment];
        PrepareAhead();
    }

    public int Capacity => _capacity;

    /// <summary>Records dropped because the ring was full.</summary>
    public long Dropped => Volatile.Read(ref _dropped);

    /// <summary>Producer: append, or drop and count when full. Never blocks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryWrite(in ExitRecord record)
    {
        var tail = _tail.Value;
        if (tail - _cachedHead >= _capacity)
        {
            _cachedHead = Volatile.Read(ref _head.Value);
            if (tail - _cachedHead >= _capacity)
            {
                Volatile.Write(ref _dropped, _dropped + 1);
                return false;
            }
        }

        var index = tail & _mask;
        var segment = _segments[index >> _segmentShift] ?? NewSegment(index);
        segment[index & _segmentMask] = record;
        Volatile.Write(ref _tail.Value, tail + 1);
        return true;
    }

    /// <summary>Consumer: how many records are ready, starting at <paramref name="head"/>.</summary>
    public int Available(out long head)
    {
        head = _head.Value;
        return (int)(Volatile.Read(ref _tail.Value) - head);
    }

    /// <summary>Consumer: the record at position <paramref name="index"/> (between head and head + available).</summary>
    public ref readonly ExitRecord At(long index)
    {
        var i = index & _mask;
        return ref _segments[i >> _segmentShift]![i & _segmentMask];
    }

    /// <summary>
    /// Consumer (or before the producer starts): makes sure the segment the producer writes into and the next one
    /// exist, so it finds them allocated.
    /// </summary>
    public void PrepareAhead()
    {
        var tail = Volatile.Read(ref _tail.Value);
        for (var ahead = 0; ahead < 2; ahead++)
        {
            var index = (tail + ((long)ahead << _segmentShift)) & _mask;
            if (Volatile.Read(ref _segments[index >> _segmentShift]) is null)
            {
                NewSegment(index);
            }
        }
    }

    /// <summary>Consumer: records before <paramref name="head"/> are done; their slots may be reused.</summary>
    public void Release(long head) => Volatile.Write(ref _head.Value, head);

    /// <summary>
    /// A segment's first use: producer and consumer may race to create it; the first one set wins and both use it
    /// (published to the consumer by the tail write that follows the producer's store into it).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ExitRecord[] NewSegment(long index)
    {
        // Written through once here, so its pages are faulted in by whoever prepares it (the writer thread), not by
        // the vCPU on its first record in each page (a fresh array's pages may be untouched zero pages).
        var segment = new ExitRecord[_segmentMask + 1];
        for (var i = 0; i < segment.Length; i += 64)
        {
            segment[i].Count = 0;
        }

        return Interlocked.CompareExchange(ref _segments[index >> _segmentShift], segment, null) ?? _segments[index >> _segmentShift]!;
    }

    /// <summary>A counter alone on its cache line, so producer and consumer do not false-share.</summary>
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Explicit, Size = 128)]
    private struct Padded
    {
        [System.Runtime.InteropServices.FieldOffset(64)]
        public long Value;
    }
}
