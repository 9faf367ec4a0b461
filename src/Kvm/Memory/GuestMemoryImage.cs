using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace ActorVmm.Kvm.Memory;

/// <summary>
/// Writes guest RAM as a sparse memory image: the regions concatenated in address order, with only the 4 KiB pages
/// that hold a non-zero byte written (runs of them with one write each); all-zero pages stay holes in the file.
/// </summary>
/// <remarks>
/// Anonymous guest RAM is mostly pages the guest never touched. Reading one would fault in the zero page (about as
/// slow as the whole scan of a touched page), so /proc/self/pagemap is asked first: an anonymous page neither present
/// nor swapped out was never written and is skipped unread. Memory mapped from an image is scanned page by page (a
/// page not present there may still hold the file's data).
/// </remarks>
internal static class GuestMemoryImage
{
    /// <summary>Pages handled per pagemap read and the longest run written with one call (64 MiB).</summary>
    private const int ChunkPages = 16384;

    private const ulong PagemapPresent = 1UL << 63;
    private const ulong PagemapSwapped = 1UL << 62;

    public static (ulong BytesWritten, ulong TotalSize) Write(GuestMemory memory, string path)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(path);
        if (!memory.TryLease())
        {
            throw new ObjectDisposedException(nameof(GuestMemory));
        }

        try
        {
            using var pagemap = memory.FileBacked ? null : OpenPagemap();
            using var file = File.OpenHandle(path, FileMode.Create, FileAccess.Write);
            RandomAccess.SetLength(file, (long)memory.TotalSize);
            var written = 0UL;
            var fileOffset = 0UL;
            var flags = new ulong[ChunkPages];
            foreach (var region in memory.Regions)
            {
                for (var chunk = 0UL; chunk < region.Size; chunk += ChunkPages * GuestMemory.PageSize)
                {
                    var pages = (int)Math.Min(ChunkPages, (region.Size - chunk) / GuestMemory.PageSize);
                    var known = pagemap is not null && ReadPagemap(pagemap, region.HostAddress + (nint)chunk, flags.AsSpan(0, pages));
                    written += WriteChunk(memory, region.Start.CheckedAdd(chunk), pages, known ? flags : null, file, fileOffset + chunk);
                }

                fileOffset += region.Size;
            }

            return (written, memory.TotalSize);
        }
        finally
        {
            memory.ReleaseLease();
        }
    }

    /// <summary>
    /// Reads a whole image into <paramref name="memory"/> (the regions in address order), 64 MiB per read straight into
    /// guest RAM. For memory that cannot map the image (huge pages); the caller checked the image's size.
    /// </summary>
    public static void Read(GuestMemory memory, SafeFileHandle file, string path)
    {
        var fileOffset = 0UL;
        foreach (var region in memory.Regions)
        {
            for (var chunk = 0UL; chunk < region.Size;)
            {
                var length = (int)Math.Min(ChunkPages * GuestMemory.PageSize, region.Size - chunk);
                var n = RandomAccess.Read(file, memory.GetSpan(region.Start.CheckedAdd(chunk), length), (long)(fileOffset + chunk));
                if (n <= 0)
                {
                    throw new GuestMemoryException(GuestMemoryError.MapFailed, region.Start.CheckedAdd(chunk), (ulong)length,
                        $"memory image {path} ends early, at 0x{fileOffset + chunk:x}");
                }

                chunk += (ulong)n;
            }

            fileOffset += region.Size;
        }
    }

    /// <summary>Writes the runs of non-zero pages among <paramref name="pages"/> pages from <paramref name="start"/>.</summary>
    private static ulong WriteChunk(GuestMemory memory, GuestAddress start, int pages, ulong[]? flags, SafeFileHandle file, ulong fileOffset)
    {
        var written = 0UL;
        var page = 0;
        while (page < pages)
        {
            if (IsZero(memory, start, page, flags))
            {
                page++;
                continue;
            }

            var runStart = page++;
            while (page < pages && !IsZero(memory, start, page, flags))
            {
                page++;
            }

            var offset = (ulong)runStart * GuestMemory.PageSize;
            var length = (page - runStart) * (int)GuestMemory.PageSize;
            RandomAccess.Write(file, memory.GetSpan(new GuestAddress(start.Value + offset), length), (long)(fileOffset + offset));
            written += (ulong)length;
        }

        return written;
    }

    private static bool IsZero(GuestMemory memory, GuestAddress start, int page, ulong[]? flags)
    {
        if (flags is not null && (flags[page] & (PagemapPresent | PagemapSwapped)) == 0)
        {
            return true;
        }

        var address = new GuestAddress(start.Value + ((ulong)page * GuestMemory.PageSize));
        return memory.GetSpan(address, (int)GuestMemory.PageSize).IndexOfAnyExcept((byte)0) < 0;
    }

    private static SafeFileHandle? OpenPagemap()
    {
        try
        {
            return File.OpenHandle("/proc/self/pagemap", FileMode.Open, FileAccess.Read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The pagemap entries of the pages from <paramref name="host"/>; false when they cannot all be read.</summary>
    private static bool ReadPagemap(SafeFileHandle pagemap, nint host, Span<ulong> flags)
    {
        var bytes = MemoryMarshal.AsBytes(flags);
        var offset = (long)((ulong)host / GuestMemory.PageSize * sizeof(ulong));
        var done = 0;
        try
        {
            while (done < bytes.Length)
            {
                var n = RandomAccess.Read(pagemap, bytes[done..], offset + done);
                if (n <= 0)
                {
                    return false;
                }

                done += n;
            }
        }
        catch (IOException)
        {
            return false;
        }

        return true;
    }
}
