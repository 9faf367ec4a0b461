using ActorVmm.Kvm.Memory;

namespace ActorVmm.Kvm.Boot;

/// <summary>Stream helpers shared by the loaders: full reads, bounded copies into guest memory, typed I/O errors.</summary>
internal static class ImageStream
{
    private const int ChunkSize = 1 << 20;

    /// <summary>Reads until <paramref name="buffer"/> is full or the stream ends; returns the bytes read.</summary>
    public static int ReadAtMost(Stream stream, Span<byte> buffer)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var n = stream.Read(buffer[total..]);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        return total;
    }

    /// <summary>Reads and discards <paramref name="count"/> bytes; returns how many were there.</summary>
    public static ulong Skip(Stream stream, ulong count)
    {
        Span<byte> scratch = stackalloc byte[4096];
        ulong skipped = 0;
        while (skipped < count)
        {
            var n = ReadAtMost(stream, scratch[..(int)Math.Min((ulong)scratch.Length, count - skipped)]);
            if (n == 0)
            {
                break;
            }

            skipped += (ulong)n;
        }

        return skipped;
    }

    /// <summary>
    /// Copies the stream into guest memory from <paramref name="address"/> until the stream ends or
    /// <paramref name="limit"/> bytes were copied; each chunk is bounds-checked before it is written.
    /// <paramref name="onOverflow"/> builds the error for a chunk that would leave guest RAM.
    /// </summary>
    public static ulong CopyToGuest(Stream stream, GuestMemory memory, GuestAddress address, ulong limit,
        Func<ulong, BootException> onOverflow)
    {
        var buffer = new byte[ChunkSize];
        ulong copied = 0;
        while (copied < limit)
        {
            var want = (int)Math.Min((ulong)buffer.Length, limit - copied);
            var n = ReadAtMost(stream, buffer.AsSpan(0, want));
            if (n == 0)
            {
                break;
            }

            if (!address.TryAdd(copied, out var at) || !memory.TryWrite(at, buffer.AsSpan(0, n)))
            {
                throw onOverflow(copied + (ulong)n);
            }

            copied += (ulong)n;
            if (n < want)
            {
                break;
            }
        }

        return copied;
    }

    /// <summary>Writes <paramref name="count"/> zero bytes at <paramref name="address"/> (the range was checked by the caller).</summary>
    public static void ZeroGuest(GuestMemory memory, GuestAddress address, ulong count)
    {
        var zeros = new byte[(int)Math.Min(count, ChunkSize)];
        ulong done = 0;
        while (done < count)
        {
            var n = (int)Math.Min((ulong)zeros.Length, count - done);
            memory.Write(address.CheckedAdd(done), zeros.AsSpan(0, n));
            done += (ulong)n;
        }
    }

    /// <summary>Opens <paramref name="path"/> for reading, turning every failure into <see cref="BootError.FileUnreadable"/>.</summary>
    public static FileStream Open(string path, string what)
    {
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new BootException(BootError.FileUnreadable, $"cannot read {what} '{path}': {ex.Message}", ex);
        }
    }

    /// <summary>Runs a load, turning an I/O failure of the image stream into <see cref="BootError.FileUnreadable"/>.</summary>
    public static T Guard<T>(string what, Func<T> load)
    {
        try
        {
            return load();
        }
        catch (IOException ex)
        {
            throw new BootException(BootError.FileUnreadable, $"cannot read {what}: {ex.Message}", ex);
        }
    }
}
