using System.Runtime.CompilerServices;
using ActorVmm.Kvm.Memory;

namespace ActorVmm.Devices.Virtio;

/// <summary>
/// A descriptor chain popped from a virtqueue, already walked and validated (indirect tables resolved):
/// the device-readable buffers come first, then the device-writable ones. The buffers are guest memory the
/// guest may change at any time, so devices copy what they parse (<see cref="Read"/>) before trusting it.
/// </summary>
public sealed class DescriptorChain
{
    private readonly Descriptor[] _descriptors;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal DescriptorChain(ushort headIndex, Descriptor[] descriptors, int readableCount)
    {
        HeadIndex = headIndex;
        _descriptors = descriptors;
        ReadableCount = readableCount;
        foreach (var d in descriptors.AsSpan(0, readableCount))
        {
            ReadableLength += d.Length;
        }

        foreach (var d in descriptors.AsSpan(readableCount))
        {
            WritableLength += d.Length;
        }
    }

    /// <summary>The head index to hand back with <see cref="Virtqueue.AddUsed"/>.</summary>
    public ushort HeadIndex { get; }

    /// <summary>All buffers in chain order: readable ones first.</summary>
    public IReadOnlyList<Descriptor> Descriptors => _descriptors;

    public int ReadableCount { get; }

    public ulong ReadableLength { get; }

    public ulong WritableLength { get; }

    public IEnumerable<Descriptor> Readable => _descriptors.Take(ReadableCount);

    public IEnumerable<Descriptor> Writable => _descriptors.Skip(ReadableCount);

    /// <summary>
    /// Gathers readable bytes starting at logical <paramref name="offset"/> into <paramref name="destination"/>;
    /// returns how many were copied (fewer when the readable part ends first).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int Read(GuestMemory memory, ulong offset, Span<byte> destination)
    {
        var done = 0;
        for (var i = 0; i < ReadableCount && done < destination.Length; i++)
        {
            var d = _descriptors[i];
            if (offset >= d.Length)
            {
                offset -= d.Length;
                continue;
            }

            var chunk = (int)Math.Min((ulong)(destination.Length - done), d.Length - offset);
            if (!memory.TryRead(new GuestAddress(d.Address.Value + offset), destination.Slice(done, chunk)))
            {
                break;
            }

            done += chunk;
            offset = 0;
        }

        return done;
    }

    /// <summary>
    /// Scatters <paramref name="source"/> into the writable buffers starting at logical <paramref name="offset"/>;
    /// returns how many bytes were written (fewer when the writable part ends first).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int Write(GuestMemory memory, ulong offset, ReadOnlySpan<byte> source)
    {
        var done = 0;
        for (var i = ReadableCount; i < _descriptors.Length && done < source.Length; i++)
        {
            var d = _descriptors[i];
            if (offset >= d.Length)
            {
                offset -= d.Length;
                continue;
            }

            var chunk = (int)Math.Min((ulong)(source.Length - done), d.Length - offset);
            if (!memory.TryWrite(new GuestAddress(d.Address.Value + offset), source.Slice(done, chunk)))
            {
                break;
            }

            done += chunk;
            offset = 0;
        }

        return done;
    }
}
