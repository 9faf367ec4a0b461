using ActorVmm.Kvm.Linux;
using Microsoft.Win32.SafeHandles;

namespace ActorVmm.Devices.Virtio;

/// <summary>
/// A raw disk image file, a whole number of 512-byte sectors: vectored reads and writes straight between the file
/// and guest RAM (preadv / pwritev over the buffers' views, no bounce buffer), flush, and freeing or zeroing ranges
/// with the cheapest means the host file system has. Byte offsets here are already checked against the capacity.
/// </summary>
internal sealed class DiskImage : IDisposable
{
    public const int SectorSize = 512;

    /// <summary>Buffers per preadv/pwritev call (Linux's IOV_MAX).</summary>
    private const int MaxVectors = 1024;

    /// <summary>Source of written zeroes where the host file system cannot zero a range itself.</summary>
    private static readonly byte[] ZeroBlock = new byte[1 << 16];

    private readonly FileStream _file;
    private readonly SafeFileHandle _handle;

    // Scratch lists for one request at a time (the transport serialises requests).
    private readonly List<Memory<byte>> _readBatch = [];
    private readonly List<ReadOnlyMemory<byte>> _writeBatch = [];

    /// <exception cref="VirtioBlockException">The image cannot be used (one-line reason).</exception>
    public DiskImage(string path, bool readOnly)
    {
        _file = Open(path, readOnly);
        _handle = _file.SafeFileHandle;
        var length = _file.Length;
        if (length == 0)
        {
            _file.Dispose();
            throw new VirtioBlockException($"disk image '{path}' is empty");
        }

        if (length % SectorSize != 0)
        {
            _file.Dispose();
            throw new VirtioBlockException($"disk image '{path}' is {length} bytes, not a multiple of {SectorSize}");
        }

        ReadOnly = readOnly;
        CapacitySectors = (ulong)length / SectorSize;
    }

    public bool ReadOnly { get; }

    public ulong CapacitySectors { get; }

    /// <summary>Fills <paramref name="segments"/> in order from the image at <paramref name="offset"/>.</summary>
    /// <exception cref="IOException">The host read failed or the image shrank.</exception>
    public void Read(List<Memory<byte>> segments, long offset)
    {
        var index = 0;
        var skip = 0;
        while (index < segments.Count)
        {
            IReadOnlyList<Memory<byte>> batch = segments;
            if (index != 0 || skip != 0 || segments.Count > MaxVectors)
            {
                _readBatch.Clear();
                for (var i = index; i < segments.Count && _readBatch.Count < MaxVectors; i++)
                {
                    _readBatch.Add(i == index ? segments[i][skip..] : segments[i]);
                }

                batch = _readBatch;
            }

            var n = RandomAccess.Read(_handle, batch, offset);
            if (n == 0)
            {
                throw new IOException("disk image shrank under the device");
            }

            offset += n;
            Advance(segments, ref index, ref skip, n);
        }
    }

    /// <summary>Writes <paramref name="segments"/> in order to the image at <paramref name="offset"/> (all or throw).</summary>
    public void Write(List<Memory<byte>> segments, long offset)
    {
        for (var index = 0; index < segments.Count; index += MaxVectors)
        {
            _writeBatch.Clear();
            var batchLength = 0L;
            for (var i = index; i < segments.Count && i < index + MaxVectors; i++)
            {
                _writeBatch.Add(segments[i]);
                batchLength += segments[i].Length;
            }

            RandomAccess.Write(_handle, _writeBatch, offset);
            offset += batchLength;
        }
    }

    /// <summary>Writes the image's data through to the disk (nothing to do when read-only).</summary>
    public void Flush()
    {
        if (!ReadOnly)
        {
            _file.Flush(flushToDisk: true);
        }
    }

    /// <summary>A hint: where the file system cannot punch holes, nothing is freed and the data stays.</summary>
    public void Discard(long offset, long length) => FileSpace.TryPunchHole(_handle, offset, length);

    /// <summary>Makes [offset, offset + length) read as zeroes; with <paramref name="unmap"/> it may be freed.</summary>
    public void ZeroRange(long offset, long length, bool unmap)
    {
        if (unmap && FileSpace.TryPunchHole(_handle, offset, length))
        {
            return;
        }

        if (FileSpace.TryZeroRange(_handle, offset, length))
        {
            return;
        }

        // tmpfs has no ZERO_RANGE: a hole, then the range allocated again, is the same to the guest.
        if (FileSpace.TryPunchHole(_handle, offset, length))
        {
            FileSpace.TryAllocate(_handle, offset, length);
            return;
        }

        for (var done = 0L; done < length; done += ZeroBlock.Length)
        {
            RandomAccess.Write(_handle, ZeroBlock.AsSpan(0, (int)Math.Min(ZeroBlock.Length, length - done)), offset + done);
        }
    }

    public void Dispose() => _file.Dispose();

    private static FileStream Open(string path, bool readOnly)
    {
        if (!File.Exists(path))
        {
            throw new VirtioBlockException($"disk image '{path}' does not exist");
        }

        try
        {
            return new FileStream(path, FileMode.Open, readOnly ? FileAccess.Read : FileAccess.ReadWrite,
                readOnly ? FileShare.Read : FileShare.None, bufferSize: 0, FileOptions.RandomAccess);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new VirtioBlockException(
                readOnly ? $"disk image '{path}' is not readable" : $"disk image '{path}' is not writable (attach it read-only?)", ex);
        }
        catch (IOException ex)
        {
            throw new VirtioBlockException($"disk image '{path}' cannot be opened: {ex.Message}", ex);
        }
    }

    /// <summary>Moves (index, skip) past <paramref name="count"/> bytes of <paramref name="segments"/>.</summary>
    private static void Advance(List<Memory<byte>> segments, ref int index, ref int skip, long count)
    {
        while (count > 0 && index < segments.Count)
        {
            var left = segments[index].Length - skip;
            if (count >= left)
            {
                count -= left;
                index++;
                skip = 0;
            }
            else
            {
                skip += (int)count;
                count = 0;
            }
        }
    }
}
