using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ActorVmm.Kvm.Interop;

namespace ActorVmm.Kvm.Memory;

/// <summary>
/// Guest RAM: anonymous (or memory-image) mappings, one per region. Every access is bounds-checked against the
/// regions and refused with a <see cref="GuestMemoryException"/>; nothing a guest supplies can reach outside the mappings.
/// </summary>
public sealed class GuestMemory : IDisposable
{
    public const ulong PageSize = 4096;

    private readonly GuestMemoryRegion[] _regions;
    private int _disposed;
    private int _leases;
    private int _unmapped;

    private GuestMemory(GuestMemoryRegion[] regions, bool fileBacked)
    {
        _regions = regions;
        FileBacked = fileBacked;
        TotalSize = regions.Aggregate(0UL, (sum, r) => sum + r.Size);
    }

    public IReadOnlyList<GuestMemoryRegion> Regions => _regions;

    public ulong TotalSize { get; }

    /// <summary>True when the regions map a memory image (<see cref="MapFile"/>), false for anonymous memory.</summary>
    internal bool FileBacked { get; }

    /// <summary>The first address past the highest region.</summary>
    public GuestAddress End => _regions.Length == 0 ? GuestAddress.Zero : _regions[^1].End;

    /// <summary>Maps anonymous memory for each (start, size); sizes and starts must be page-aligned and regions disjoint.</summary>
    public static GuestMemory Create(IEnumerable<(GuestAddress Start, ulong Size)> layout, bool hugePages = false)
    {
        var sorted = CheckLayout(layout);
        return MapRegions(sorted, fileBacked: false, (start, size, offset) =>
        {
            var host = MapAligned(start, size);
            if (hugePages)
            {
                _ = Libc.Madvise(host, (nuint)size, Libc.MadvHugepage);
            }

            return host;
        });
    }

    /// <summary>
    /// Maps guest RAM on explicit huge pages of <paramref name="pages"/> (hugetlb: anonymous, MAP_HUGETLB with the
    /// size in the MAP_HUGE_SHIFT bits); <see cref="HugePages.Off"/> is <see cref="Create(IEnumerable{ValueTuple{GuestAddress, ulong}}, bool)"/>
    /// with transparent huge pages. Each region's start and size must be multiples of the page size. The pages are
    /// reserved when mapped (no MAP_NORESERVE), so a pool too small fails here, never at a guest page fault: the pool
    /// is checked first (<see cref="HugePagePool.Check"/>) and a reservation the kernel still refuses (ENOMEM) gets the
    /// same kind of one-line error.
    /// </summary>
    /// <exception cref="GuestMemoryException">A region is not aligned to the page size, or the pool cannot back the memory.</exception>
    public static GuestMemory Create(IEnumerable<(GuestAddress Start, ulong Size)> layout, HugePages pages, HugePagePool? pool = null)
    {
        if (pages == HugePages.Off)
        {
            return Create(layout, hugePages: true);
        }

        var sorted = CheckLayout(layout);
        var pageSize = pages.Bytes();
        foreach (var (start, size) in sorted)
        {
            if (start.Value % pageSize != 0 || size % pageSize != 0)
            {
                throw new GuestMemoryException(GuestMemoryError.InvalidRegion, start, size,
                    $"huge pages {pages.Name()}: the guest RAM region at {start} of 0x{size:x} bytes is not a multiple of {pages.Name()} "
                    + $"(give a memory size whose regions below and above the 3 GiB MMIO gap are {pages.Name()}-aligned)");
            }
        }

        var total = sorted.Aggregate(0UL, (sum, r) => sum + r.Size);
        (pool ?? HugePagePool.Host).Check(pages, total);
        return MapRegions(sorted, fileBacked: false, (start, size, _) => MapHugeTlb(start, size, pages));
    }

    /// <summary>
    /// Guest RAM on huge pages filled from a memory image (<see cref="WriteSparseImage"/>): as <see cref="Create(IEnumerable{ValueTuple{GuestAddress, ulong}}, HugePages, HugePagePool?)"/>,
    /// then the image is read in, region by region, skipping its holes. A file cannot be mapped copy-on-write onto
    /// hugetlb pages, so unlike <see cref="MapFile"/> this reads the whole image before the VM starts.
    /// </summary>
    public static GuestMemory LoadFile(
        IEnumerable<(GuestAddress Start, ulong Size)> layout, string path, HugePages pages, HugePagePool? pool = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        var regions = CheckLayout(layout);
        var total = regions.Aggregate(0UL, (sum, r) => sum + r.Size);
        using var file = OpenImage(path);
        var fileSize = (ulong)RandomAccess.GetLength(file);
        if (fileSize != total)
        {
            throw new GuestMemoryException(GuestMemoryError.InvalidRegion, GuestAddress.Zero, total,
                $"memory image {path} holds 0x{fileSize:x} bytes, the memory layout needs 0x{total:x}");
        }

        var memory = Create(regions, pages, pool);
        try
        {
            GuestMemoryImage.Read(memory, file, path);
        }
        catch
        {
            memory.Dispose();
            throw;
        }

        return memory;
    }

    /// <summary>
    /// Maps guest RAM from a memory image (<see cref="WriteSparseImage"/>): each region, in address order, maps the
    /// next <c>Size</c> bytes of <paramref name="path"/> copy-on-write (MAP_PRIVATE), so pages load from the file when
    /// first touched and guest writes never reach the file, which stays intact for further restores. The file must
    /// hold exactly the layout's total size.
    /// </summary>
    public static GuestMemory MapFile(IEnumerable<(GuestAddress Start, ulong Size)> layout, string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var sorted = CheckLayout(layout);
        var total = sorted.Aggregate(0UL, (sum, r) => sum + r.Size);
        using var file = OpenImage(path);
        var fileSize = (ulong)RandomAccess.GetLength(file);
        if (fileSize != total)
        {
            throw new GuestMemoryException(GuestMemoryError.InvalidRegion, GuestAddress.Zero, total,
                $"memory image {path} holds 0x{fileSize:x} bytes, the memory layout needs 0x{total:x}");
        }

        return MapRegions(sorted, fileBacked: true, (start, size, offset) => MapFileAligned(start, size, file, offset));
    }

    /// <summary>
    /// Writes this memory as a sparse image: the regions concatenated in address order, <see cref="TotalSize"/> bytes,
    /// of which only the 4 KiB pages that are not all zero are written (the rest stay holes). Stop the vCPUs first.
    /// </summary>
    public (ulong BytesWritten, ulong TotalSize) WriteSparseImage(string path) => GuestMemoryImage.Write(this, path);

    private static (GuestAddress Start, ulong Size)[] CheckLayout(IEnumerable<(GuestAddress Start, ulong Size)> layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        var sorted = layout.OrderBy(r => r.Start.Value).ToArray();
        for (var i = 0; i < sorted.Length; i++)
        {
            var (start, size) = sorted[i];
            if (size == 0 || size % PageSize != 0 || start.Value % PageSize != 0)
            {
                throw new GuestMemoryException(GuestMemoryError.InvalidRegion, start, size,
                    $"guest memory region at {start} of 0x{size:x} bytes is empty or not page-aligned");
            }

            if (!start.TryAdd(size, out var end))
            {
                throw new GuestMemoryException(GuestMemoryError.AddressOverflow, start, size,
                    $"guest memory region at {start} of 0x{size:x} bytes wraps around");
            }

            if (i + 1 < sorted.Length && end > sorted[i + 1].Start)
            {
                throw new GuestMemoryException(GuestMemoryError.InvalidRegion, start, size,
                    $"guest memory regions at {start} and {sorted[i + 1].Start} overlap");
            }
        }

        return sorted;
    }

    /// <summary>Maps each region with <paramref name="map"/> (start, size, offset in the concatenation); all or nothing.</summary>
    private static GuestMemory MapRegions(
        (GuestAddress Start, ulong Size)[] sorted, bool fileBacked, Func<GuestAddress, ulong, ulong, nint> map)
    {
        var regions = new List<GuestMemoryRegion>();
        try
        {
            var offset = 0UL;
            for (var i = 0; i < sorted.Length; i++)
            {
                var (start, size) = sorted[i];
                var host = map(start, size, offset);
                regions.Add(new GuestMemoryRegion(i, start, size, host));
                _ = Libc.Madvise(host, (nuint)size, Libc.MadvDontDump);
                offset += size;
            }
        }
        catch
        {
            foreach (var r in regions)
            {
                _ = Libc.Munmap(r.HostAddress, (nuint)r.Size);
            }

            throw;
        }

        return new GuestMemory(regions.ToArray(), fileBacked);
    }

    private static Microsoft.Win32.SafeHandles.SafeFileHandle OpenImage(string path)
    {
        try
        {
            return File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new GuestMemoryException(GuestMemoryError.MapFailed, GuestAddress.Zero, 0,
                $"cannot open memory image {path}: {e.Message}");
        }
    }

    /// <summary>
    /// Maps <paramref name="size"/> bytes of <paramref name="file"/> at <paramref name="offset"/> copy-on-write over an
    /// aligned reservation (<see cref="MapAligned"/>), keeping the guest/host 2 MiB congruence.
    /// </summary>
    private static nint MapFileAligned(GuestAddress start, ulong size, SafeHandle file, ulong offset)
    {
        var host = MapAligned(start, size);
        var mapped = Libc.Mmap(host, (nuint)size, Libc.ProtRead | Libc.ProtWrite,
            Libc.MapPrivate | Libc.MapFixed | Libc.MapNoReserve, file, (long)offset);
        if (mapped == Libc.MapFailed)
        {
            var errno = Marshal.GetLastPInvokeError();
            _ = Libc.Munmap(host, (nuint)size);
            throw new GuestMemoryException(GuestMemoryError.MapFailed, start, size,
                $"cannot map 0x{size:x} bytes of the memory image at offset 0x{offset:x}: {Marshal.GetPInvokeErrorMessage(errno)}");
        }

        return mapped;
    }

    /// <summary>
    /// Maps <paramref name="size"/> bytes of anonymous hugetlb memory. The kernel aligns a hugetlb mapping to its page
    /// size, and <paramref name="start"/> is a multiple of it, so guest and host addresses are congruent.
    /// </summary>
    private static nint MapHugeTlb(GuestAddress start, ulong size, HugePages pages)
    {
        var host = Libc.Mmap(0, (nuint)size, Libc.ProtRead | Libc.ProtWrite,
            HugeTlbMapFlags(pages), -1, 0);
        if (host == Libc.MapFailed)
        {
            var errno = Marshal.GetLastPInvokeError();
            var count = size / pages.Bytes();
            throw errno == Libc.ENoMem
                ? new GuestMemoryException(GuestMemoryError.HugePagesUnavailable, start, size,
                    $"huge pages {pages.Name()}: the kernel could not reserve {count} pages for guest RAM at {start} (ENOMEM: the pool "
                    + $"is short, or in use by others); see {HugePagePool.DirectoryOf(pages)} and grow it as root, e.g. {HugePagePool.GrowCommand(pages, count)}")
                : new GuestMemoryException(GuestMemoryError.MapFailed, start, size,
                    $"huge pages {pages.Name()}: cannot map 0x{size:x} bytes of guest memory: {Marshal.GetPInvokeErrorMessage(errno)}");
        }

        if ((ulong)host % pages.Bytes() != 0)
        {
            _ = Libc.Munmap(host, (nuint)size);
            throw new GuestMemoryException(GuestMemoryError.MapFailed, start, size,
                $"huge pages {pages.Name()}: the kernel mapped guest memory at 0x{(ulong)host:x}, not {pages.Name()}-aligned");
        }

        return host;
    }

    /// <summary>The flags of a hugetlb guest RAM mapping: private anonymous, MAP_HUGETLB and the size; reserved at mmap (no MAP_NORESERVE).</summary>
    internal static int HugeTlbMapFlags(HugePages pages) => Libc.MapPrivate | Libc.MapAnonymous | pages.MapFlags();

    /// <summary>Huge page size the host mapping is aligned for (x86-64 transparent huge pages).</summary>
    private const ulong HugePageSize = 2UL << 20;

    /// <summary>
    /// Maps <paramref name="size"/> bytes of anonymous memory whose host address is congruent to the guest address
    /// <paramref name="start"/> modulo 2 MiB. KVM can only back a guest 2 MiB page with a host huge page (one
    /// nested-paging entry instead of 512) when both addresses have the same offset in their 2 MiB pages; a plain
    /// mmap is only 4 KiB-aligned, which would keep every guest access on 4 KiB second-level pages (QEMU aligns its
    /// RAM the same way). Maps 2 MiB more than needed and unmaps the ends.
    /// </summary>
    private static nint MapAligned(GuestAddress start, ulong size)
    {
        var extra = size >= HugePageSize ? HugePageSize : 0;
        var host = Libc.Mmap(0, (nuint)(size + extra), Libc.ProtRead | Libc.ProtWrite,
            Libc.MapPrivate | Libc.MapAnonymous | Libc.MapNoReserve, -1, 0);
        if (host == Libc.MapFailed)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new GuestMemoryException(GuestMemoryError.MapFailed, start, size,
                $"cannot map 0x{size:x} bytes of guest memory: {Marshal.GetPInvokeErrorMessage(errno)}");
        }

        if (extra == 0)
        {
            return host;
        }

        var want = start.Value % HugePageSize;
        var head = (want - ((ulong)host % HugePageSize) + HugePageSize) % HugePageSize;
        if (head > 0)
        {
            _ = Libc.Munmap(host, (nuint)head);
        }

        var tail = extra - head;
        if (tail > 0)
        {
            _ = Libc.Munmap(host + (nint)(head + size), (nuint)tail);
        }

        return host + (nint)head;
    }

    /// <summary>True when [address, address + length) lies wholly in guest RAM (possibly across adjacent regions).</summary>
    public bool IsValidRange(GuestAddress address, ulong length)
    {
        if (!address.TryAdd(length, out _))
        {
            return false;
        }

        var cursor = address;
        var remaining = length;
        while (remaining > 0)
        {
            var region = FindRegion(cursor);
            if (region is null)
            {
                return false;
            }

            var chunk = Math.Min(remaining, region.Size - (cursor.Value - region.Start.Value));
            remaining -= chunk;
            cursor = new GuestAddress(cursor.Value + chunk);
        }

        return length > 0 || FindRegion(address) is not null;
    }

    /// <summary>The region holding <paramref name="address"/>, or null.</summary>
    public GuestMemoryRegion? FindRegion(GuestAddress address)
    {
        var lo = 0;
        var hi = _regions.Length - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            var r = _regions[mid];
            if (address < r.Start)
            {
                hi = mid - 1;
            }
            else if (address.Value - r.Start.Value >= r.Size)
            {
                lo = mid + 1;
            }
            else
            {
                return r;
            }
        }

        return null;
    }

    public void Read(GuestAddress address, Span<byte> destination)
    {
        if (!TryRead(address, destination))
        {
            throw OutOfRange(address, (ulong)destination.Length);
        }
    }

    public void Write(GuestAddress address, ReadOnlySpan<byte> source)
    {
        if (!TryWrite(address, source))
        {
            throw OutOfRange(address, (ulong)source.Length);
        }
    }

    public bool TryRead(GuestAddress address, Span<byte> destination)
    {
        if (!IsValidRange(address, (ulong)destination.Length))
        {
            return false;
        }

        var remaining = destination.Length;
        var cursor = address;
        var done = 0;
        while (remaining > 0)
        {
            var (host, chunk) = Chunk(cursor, remaining);
            HostSpan(host, chunk).CopyTo(destination.Slice(done, chunk));
            done += chunk;
            remaining -= chunk;
            cursor = new GuestAddress(cursor.Value + (ulong)chunk);
        }

        return true;
    }

    public bool TryWrite(GuestAddress address, ReadOnlySpan<byte> source)
    {
        if (!IsValidRange(address, (ulong)source.Length))
        {
            return false;
        }

        var remaining = source.Length;
        var cursor = address;
        var done = 0;
        while (remaining > 0)
        {
            var (host, chunk) = Chunk(cursor, remaining);
            source.Slice(done, chunk).CopyTo(HostSpan(host, chunk));
            done += chunk;
            remaining -= chunk;
            cursor = new GuestAddress(cursor.Value + (ulong)chunk);
        }

        return true;
    }

    /// <summary>Reads an unmanaged value (little-endian, as the guest stores it).</summary>
    public T Read<T>(GuestAddress address)
        where T : unmanaged
    {
        T value = default;
        Read(address, MemoryMarshal.AsBytes(new Span<T>(ref value)));
        return value;
    }

    public void Write<T>(GuestAddress address, T value)
        where T : unmanaged
    {
        Write(address, MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in value)));
    }

    /// <summary>
    /// A span straight onto guest RAM for zero-copy device I/O. The range must lie in one region.
    /// The span is valid only while this object is alive; the guest may change it concurrently.
    /// </summary>
    public Span<byte> GetSpan(GuestAddress address, int length)
    {
        var region = FindRegion(address);
        if (length < 0 || region is null || !address.TryAdd((ulong)length, out _)
            || (ulong)length > region.Size - (address.Value - region.Start.Value))
        {
            throw OutOfRange(address, (ulong)Math.Max(length, 0));
        }

        return HostSpan(region.HostAddress + (nint)(address.Value - region.Start.Value), length);
    }

    /// <summary>
    /// <see cref="GetSpan"/> as a <see cref="Memory{T}"/> (for vectored I/O: <c>RandomAccess.Read(handle, buffers, offset)</c>
    /// reads straight into guest RAM). Same checks: the range must lie in one region. Valid while this object is alive.
    /// </summary>
    public Memory<byte> GetMemory(GuestAddress address, int length)
    {
        _ = GetSpan(address, length);
        return length == 0 ? Memory<byte>.Empty : new GuestMemoryManager(this, address, length).Memory;
    }

    /// <summary>Host address of a checked range inside one region (throws like <see cref="GetSpan"/>).</summary>
    internal nint HostAddressOf(GuestAddress address, int length)
    {
        var region = FindRegion(address);
        if (length < 0 || region is null || !address.TryAdd((ulong)length, out _)
            || (ulong)length > region.Size - (address.Value - region.Start.Value))
        {
            throw OutOfRange(address, (ulong)Math.Max(length, 0));
        }

        if (Volatile.Read(ref _disposed) != 0)
        {
            throw new ObjectDisposedException(nameof(GuestMemory));
        }

        return region.HostAddress + (nint)(address.Value - region.Start.Value);
    }

    /// <summary>A 16-bit load with acquire semantics (virtqueue ring indices). Must be 2-byte aligned.</summary>
    public ushort LoadAcquireU16(GuestAddress address)
    {
        ref var slot = ref AlignedRef<ushort>(address);
        return Volatile.Read(ref slot);
    }

    /// <summary>A 16-bit store with release semantics (virtqueue ring indices). Must be 2-byte aligned.</summary>
    public void StoreReleaseU16(GuestAddress address, ushort value)
    {
        ref var slot = ref AlignedRef<ushort>(address);
        Volatile.Write(ref slot, value);
    }

    /// <summary>
    /// Leases the mapping for a thread that works on guest RAM outside the VM's own lifetime checks (a queue worker
    /// inside host I/O): while any lease is held, <see cref="Dispose"/> leaves the RAM mapped and the last
    /// <see cref="ReleaseLease"/> unmaps it. False once disposed (no lease taken).
    /// </summary>
    public bool TryLease()
    {
        Interlocked.Increment(ref _leases);
        if (Volatile.Read(ref _disposed) == 0)
        {
            return true;
        }

        ReleaseLease();
        return false;
    }

    /// <summary>Ends a lease taken with <see cref="TryLease"/>; unmaps when the memory was disposed meanwhile.</summary>
    public void ReleaseLease()
    {
        if (Interlocked.Decrement(ref _leases) == 0 && Volatile.Read(ref _disposed) != 0)
        {
            Unmap();
        }
    }

    /// <summary>Leases held now (a disposed memory with leases stays mapped until they end).</summary>
    public int Leases => Volatile.Read(ref _leases);

    /// <summary>True once the RAM is unmapped (dispose with no lease held, or the last lease ended after it).</summary>
    public bool Unmapped => Volatile.Read(ref _unmapped) != 0;

    /// <summary>Unmaps guest RAM now, or when the last lease ends (never under a live lease holder).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (Volatile.Read(ref _leases) == 0)
        {
            Unmap();
        }
    }

    private void Unmap()
    {
        if (Interlocked.Exchange(ref _unmapped, 1) != 0)
        {
            return;
        }

        foreach (var r in _regions)
        {
            _ = Libc.Munmap(r.HostAddress, (nuint)r.Size);
        }
    }

    private ref T AlignedRef<T>(GuestAddress address)
        where T : unmanaged
    {
        var size = (ulong)Unsafe.SizeOf<T>();
        if (address.Value % size != 0)
        {
            throw new GuestMemoryException(GuestMemoryError.OutOfRange, address, size,
                $"guest address {address} is not {size}-byte aligned");
        }

        return ref MemoryMarshal.GetReference(MemoryMarshal.Cast<byte, T>(GetSpan(address, (int)size)));
    }

    private (nint Host, int Length) Chunk(GuestAddress cursor, int remaining)
    {
        var region = FindRegion(cursor)!;
        var offsetInRegion = cursor.Value - region.Start.Value;
        var chunk = (int)Math.Min((ulong)remaining, region.Size - offsetInRegion);
        return (region.HostAddress + (nint)offsetInRegion, chunk);
    }

    private Span<byte> HostSpan(nint host, int length)
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            throw new ObjectDisposedException(nameof(GuestMemory));
        }

        // SAFETY: host..host+length was checked by the caller to lie inside one live mapping of this object.
        unsafe
        {
            return new Span<byte>((void*)host, length);
        }
    }

    private static GuestMemoryException OutOfRange(GuestAddress address, ulong length) =>
        new(GuestMemoryError.OutOfRange, address, length,
            $"guest range {address}+0x{length:x} is outside guest memory");
}
