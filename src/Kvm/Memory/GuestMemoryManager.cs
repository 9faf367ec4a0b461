using System.Buffers;

namespace ActorVmm.Kvm.Memory;

/// <summary>
/// A <see cref="Memory{T}"/> view of one bounds-checked range of guest RAM (inside one region), for APIs that
/// want <see cref="Memory{T}"/> — vectored file I/O (<c>RandomAccess.Read/Write</c> with a list of buffers ends
/// in preadv/pwritev straight into guest memory). The memory is unmanaged and never moves, so pinning is free.
/// Valid only while its <see cref="GuestMemory"/> is alive (as <see cref="GuestMemory.GetSpan"/>).
/// </summary>
internal sealed class GuestMemoryManager(GuestMemory owner, GuestAddress address, int length) : MemoryManager<byte>
{
    public override Span<byte> GetSpan() => owner.GetSpan(address, length);

    public override MemoryHandle Pin(int elementIndex = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(elementIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(elementIndex, length);
        var host = owner.HostAddressOf(address, length) + elementIndex;

        // SAFETY: host is inside a live mapping of owner (checked by HostAddressOf); the mapping is not moved by the
        // GC, so the handle needs no GCHandle and nothing to release.
        unsafe
        {
            return new MemoryHandle((void*)host);
        }
    }

    /// <summary>Nothing to release: <see cref="Pin"/> took no GCHandle.</summary>
    public override void Unpin()
    {
    }

    protected override void Dispose(bool disposing)
    {
    }
}
