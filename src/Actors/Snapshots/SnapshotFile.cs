using System.Buffers.Binary;
using System.Security.Cryptography;

namespace ActorVmm.Actors.Snapshots;

/// <summary>
/// Writes and reads a snapshot's <c>state.bin</c>: the 8-byte magic <c>AVMSNAP\0</c>, u32 format version, u32 flags
/// (reserved: 0), u64 payload length, the payload (<see cref="SnapshotPayload"/>), and the SHA-256 of the payload;
/// integers little-endian. Writing goes to <c>path.tmp</c>, is flushed to disk and renamed over the path, so a crash
/// leaves either the old file or the new one.
/// <para>
/// Compatibility: a file newer than <see cref="CurrentVersion"/> is refused (its layout is unknown; upgrade
/// actorvmm). An older one is decoded by its own version's reader and brought forward one migration step per
/// version (v1 → v2 → …) up to the current shape; versions below <see cref="OldestMigratableVersion"/> have no reader
/// and are refused as too old. Changing the payload means a new version number, a reader for it, and a migration
/// step from the previous one; a released version's reader is never changed. Non-zero flags are refused.
/// </para>
/// <para>Every problem reading is a <see cref="SnapshotFormatException"/> with one line naming the file.</para>
/// </summary>
public static class SnapshotFile
{
    /// <summary>The format this actorvmm writes.</summary>
    public const int CurrentVersion = 1;

    /// <summary>The oldest format this actorvmm can still read and migrate.</summary>
    public const int OldestMigratableVersion = 1;

    /// <summary>Largest payload read (device and CPU state; guest RAM is in memory.bin).</summary>
    public const long MaxPayloadBytes = 256L << 20;

    internal const int HeaderBytes = 24;
    internal const int ChecksumBytes = 32;

    internal static ReadOnlySpan<byte> Magic => "AVMSNAP\0"u8;

    /// <summary>Writes <paramref name="state"/> in <see cref="CurrentVersion"/> to <paramref name="path"/>, atomically.</summary>
    /// <exception cref="NotSupportedException">A device state has no codec (the message names the device and type).</exception>
    public static void Write(string path, VmSnapshotState state)
    {
        ArgumentNullException.ThrowIfNull(path);
        WriteRaw(path, CurrentVersion, 0, SnapshotPayload.Encode(state));
    }

    /// <summary>Reads and checks the snapshot at <paramref name="path"/>, migrating an older format to the current shape.</summary>
    /// <exception cref="SnapshotFormatException">Missing, unreadable, not a snapshot, newer or too old, truncated, corrupt.</exception>
    public static VmSnapshotState Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        int version;
        byte[] payload;
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
            (version, payload) = ReadChecked(path, file);
        }
        catch (FileNotFoundException)
        {
            throw Fail(path, "no such file");
        }
        catch (DirectoryNotFoundException)
        {
            throw Fail(path, "no such file");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw Fail(path, $"cannot be read: {OneLine(ex.Message)}", ex);
        }

        try
        {
            return Decode(version, payload);
        }
        catch (InvalidDataException ex)
        {
            throw Fail(path, $"format {version} payload is invalid: {ex.Message}", ex);
        }
    }

    /// <summary>Writes a file with any version, flags and payload (tests make older or damaged files with it).</summary>
    internal static void WriteRaw(string path, int version, uint flags, byte[] payload)
    {
        var temporary = path + ".tmp";
        try
        {
            using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                Span<byte> header = stackalloc byte[HeaderBytes];
                Magic.CopyTo(header);
                BinaryPrimitives.WriteUInt32LittleEndian(header[8..], (uint)version);
                BinaryPrimitives.WriteUInt32LittleEndian(header[12..], flags);
                BinaryPrimitives.WriteUInt64LittleEndian(header[16..], (ulong)payload.LongLength);
                file.Write(header);
                file.Write(payload);
                file.Write(SHA256.HashData(payload));
                file.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            DeleteQuietly(temporary);
            throw;
        }
    }

    /// <summary>
    /// Decodes a checked payload of <paramref name="version"/>: its own reader, then one migration step per version
    /// up to <see cref="CurrentVersion"/>. A version 2 would add <c>2 =&gt; DecodeV2(payload)</c> and turn the v1 arm
    /// into <c>MigrateV1ToV2(DecodeV1(payload))</c>.
    /// </summary>
    private static VmSnapshotState Decode(int version, byte[] payload) => version switch
    {
        1 => SnapshotPayload.DecodeV1(payload),
        _ => throw new InvalidDataException($"no reader for format {version}"),
    };

    private static (int Version, byte[] Payload) ReadChecked(string path, FileStream file)
    {
        var length = file.Length;
        Span<byte> header = stackalloc byte[HeaderBytes];
        var got = file.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
        var magicBytes = Math.Min(got, Magic.Length);
        if (!header[..magicBytes].SequenceEqual(Magic[..magicBytes]))
        {
            throw Fail(path, "not an ActorVmm snapshot");
        }

        if (got < HeaderBytes)
        {
            throw Fail(path, $"truncated: {length} bytes, shorter than the {HeaderBytes}-byte header");
        }

        var version = BinaryPrimitives.ReadUInt32LittleEndian(header[8..]);
        if (version > CurrentVersion)
        {
            throw Fail(path, $"snapshot format {version} is newer than this actorvmm reads ({CurrentVersion}): upgrade actorvmm");
        }

        if (version < OldestMigratableVersion)
        {
            throw Fail(path, $"snapshot format {version} is too old to migrate (this actorvmm reads formats {OldestMigratableVersion} to {CurrentVersion})");
        }

        var flags = BinaryPrimitives.ReadUInt32LittleEndian(header[12..]);
        if (flags != 0)
        {
            throw Fail(path, $"uses flags 0x{flags:x} this actorvmm does not know");
        }

        var payloadLength = BinaryPrimitives.ReadUInt64LittleEndian(header[16..]);
        var available = (ulong)(length - HeaderBytes);
        if (available < ChecksumBytes || payloadLength > available - ChecksumBytes)
        {
            throw Fail(path, $"truncated: the header announces {payloadLength} payload bytes and a checksum, the file has {available} bytes after the header");
        }

        if (payloadLength < available - ChecksumBytes)
        {
            throw Fail(path, $"{available - ChecksumBytes - payloadLength} unexpected bytes after the checksum: the file is corrupt");
        }

        if (payloadLength > MaxPayloadBytes)
        {
            throw Fail(path, $"payload of {payloadLength} bytes is over the {MaxPayloadBytes} this actorvmm reads");
        }

        var payload = new byte[payloadLength];
        file.ReadExactly(payload);
        Span<byte> checksum = stackalloc byte[ChecksumBytes];
        file.ReadExactly(checksum);
        if (!CryptographicOperations.FixedTimeEquals(checksum, SHA256.HashData(payload)))
        {
            throw Fail(path, "checksum mismatch: the file is corrupt");
        }

        return ((int)version, payload);
    }

    private static SnapshotFormatException Fail(string path, string problem, Exception? inner = null) =>
        inner is null
            ? new SnapshotFormatException($"snapshot {path}: {problem}")
            : new SnapshotFormatException($"snapshot {path}: {problem}", inner);

    /// <summary>Removes a half-written temporary file; a failure here must not hide the one that got us here.</summary>
    private static void DeleteQuietly(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }

    private static string OneLine(string text) => text.ReplaceLineEndings(" ");
}
