using System.Runtime.CompilerServices;
using ActorVmm.Kvm.Memory;

namespace ActorVmm.Devices.Virtio;

/// <summary>
/// Views of guest RAM covering part of a descriptor chain's buffers, for vectored I/O straight into or out of guest
/// RAM. Views are slices of per-region windows made once (<see cref="GuestMemory.GetMemory"/>, bounds-checked), so a
/// request allocates nothing per buffer. Not thread-safe: one request at a time.
/// </summary>
internal sealed class GuestBufferViews
{
    /// <summary>Regions are viewed as Memory&lt;byte&gt; windows of at most this many bytes.</summary>
    private const int WindowSize = 1 << 30;

    private readonly List<Memory<byte>> _segments = [];
    private GuestMemory? _windowsOf;
    private (GuestMemoryRegion Region, Memory<byte>[] Windows)[] _windows = [];

    /// <summary>The views the last <see cref="Gather"/> made, in chain order.</summary>
    public List<Memory<byte>> Segments => _segments;

    /// <summary>
    /// Fills <see cref="Segments"/> with views covering bytes [offset, offset + length) of the chain's readable
    /// (<paramref name="writable"/> false) or writable part, split where a buffer crosses a RAM region (or window)
    /// boundary and merged where consecutive buffers are adjacent. False when that part is shorter than asked (or,
    /// defensively, a buffer is not in guest RAM).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool Gather(DescriptorChain chain, GuestMemory memory, bool writable, ulong offset, ulong length)
    {
        _segments.Clear();
        var descriptors = chain.Descriptors;
        var first = writable ? chain.ReadableCount : 0;
        var last = writable ? descriptors.Count : chain.ReadableCount;
        Memory<byte> lastWindow = default;
        var lastEnd = -1;
        for (var i = first; i < last && length > 0; i++)
        {
            var d = descriptors[i];
            if (offset >= d.Length)
            {
                offset -= d.Length;
                continue;
            }

            var address = d.Address.Value + offset;
            var take = Math.Min(length, d.Length - offset);
            length -= take;
            offset = 0;
            while (take > 0)
            {
                if (!WindowOf(memory, address, out var window, out var at))
                {
                    return false;
                }

                var piece = (int)Math.Min(take, (ulong)(window.Length - at));
                if (at == lastEnd && window.Equals(lastWindow))
                {
                    // Adjacent to the previous buffer in the same window: one longer segment.
                    var previous = _segments[^1];
                    _segments[^1] = window.Slice(at - previous.Length, previous.Length + piece);
                }
                else
                {
                    _segments.Add(window.Slice(at, piece));
                }

                lastWindow = window;
                lastEnd = at + piece;
                address += (ulong)piece;
                take -= (ulong)piece;
            }
        }

        return length == 0;
    }

    /// <summary>The window holding <paramref name="address"/> and the address's offset in it; false outside guest RAM.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool WindowOf(GuestMemory memory, ulong address, out Memory<byte> window, out int at)
    {
        window = default;
        at = 0;
        if (!ReferenceEquals(memory, _windowsOf))
        {
            _windows = memory.Regions.Select(r => (r, new Memory<byte>[(int)((r.Size + WindowSize - 1) / WindowSize)])).ToArray();
            _windowsOf = memory;
        }

        foreach (var (region, windows) in _windows)
        {
            var start = region.Start.Value;
            if (address < start || address - start >= region.Size)
            {
                continue;
            }

            var inRegion = address - start;
            var k = (int)(inRegion / WindowSize);
            if (windows[k].IsEmpty)
            {
                var windowStart = (ulong)k * WindowSize;
                windows[k] = memory.GetMemory(new GuestAddress(start + windowStart), (int)Math.Min(WindowSize, region.Size - windowStart));
            }

            window = windows[k];
            at = (int)(inRegion % WindowSize);
            return true;
        }

        return false;
    }
}
