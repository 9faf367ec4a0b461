using System.Text;

namespace ActorVmm.Actors.Snapshots;

/// <summary>
/// Reads of untrusted snapshot bytes: every count is checked against a bound (and against what a seekable stream
/// still holds) before anything is allocated, booleans and presence bytes must be 0 or 1, strings must be valid
/// UTF-8. Any problem is an <see cref="InvalidDataException"/> with one line.
/// </summary>
internal static class BoundedReader
{
    private static readonly UTF8Encoding _strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static bool ReadStrictBoolean(this BinaryReader reader, string what)
    {
        var b = reader.ReadByte();
        return b switch
        {
            0 => false,
            1 => true,
            _ => throw new InvalidDataException($"{what}: {b} is not a boolean (0 or 1)"),
        };
    }

    /// <summary>A u32 element count, at most <paramref name="max"/> and at most what the stream still holds at <paramref name="elementSize"/> bytes each.</summary>
    public static int ReadCount(this BinaryReader reader, int max, int elementSize, string what)
    {
        var count = reader.ReadUInt32();
        if (count > (uint)max)
        {
            throw new InvalidDataException($"{what}: {count} entries, more than the {max} allowed");
        }

        var stream = reader.BaseStream;
        if (stream.CanSeek && (long)count * elementSize > stream.Length - stream.Position)
        {
            throw new InvalidDataException($"{what}: {count} entries but the data ends before them (truncated)");
        }

        return (int)count;
    }

    public static byte[] ReadBoundedBytes(this BinaryReader reader, int max, string what)
    {
        var count = reader.ReadCount(max, 1, what);
        var bytes = reader.ReadBytes(count);
        if (bytes.Length != count)
        {
            throw new InvalidDataException($"{what}: truncated");
        }

        return bytes;
    }

    public static string ReadBoundedString(this BinaryReader reader, int maxBytes, string what)
    {
        var bytes = reader.ReadBoundedBytes(maxBytes, what);
        try
        {
            return _strictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new InvalidDataException($"{what}: not valid UTF-8");
        }
    }

    /// <summary>A name that ends up in messages (device names): valid UTF-8 without control characters.</summary>
    public static string ReadName(this BinaryReader reader, int maxBytes, string what)
    {
        var name = reader.ReadBoundedString(maxBytes, what);
        if (name.Length == 0 || name.Any(char.IsControl))
        {
            throw new InvalidDataException($"{what}: empty or holds control characters");
        }

        return name;
    }

    /// <summary>Writes a count the reader will accept: one over <paramref name="max"/> would make a file that cannot be read back.</summary>
    public static void WriteCount(this BinaryWriter writer, int count, int max, string what)
    {
        if (count > max)
        {
            throw new ArgumentException($"{what}: {count} entries, more than the {max} a snapshot may hold");
        }

        writer.Write((uint)count);
    }

    public static void WriteBytes(this BinaryWriter writer, ReadOnlySpan<byte> bytes, int max, string what)
    {
        writer.WriteCount(bytes.Length, max, what);
        writer.Write(bytes);
    }

    public static void WriteString(this BinaryWriter writer, string value, int maxBytes, string what) =>
        writer.WriteBytes(_strictUtf8.GetBytes(value), maxBytes, what);
}
