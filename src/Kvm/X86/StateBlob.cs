using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ActorVmm.Kvm.X86;

/// <summary>
/// The state codecs' building blocks: integers, and structs or arrays as a length-prefixed blob of their raw bytes.
/// Reading checks every length before allocating and turns a short stream into an <see cref="InvalidDataException"/>
/// naming the field.
/// </summary>
internal static class StateBlob
{
    public static void WriteStruct<T>(BinaryWriter w, in T value)
        where T : unmanaged
    {
        WriteBytes(w, MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in value)));
    }

    public static void WriteBytes(BinaryWriter w, ReadOnlySpan<byte> bytes)
    {
        w.Write(bytes.Length);
        w.Write(bytes);
    }

    public static T ReadStruct<T>(BinaryReader r, string owner, string field)
        where T : unmanaged
    {
        var size = Unsafe.SizeOf<T>();
        var length = ReadInt32(r, owner, field);
        if (length != size)
        {
            throw new InvalidDataException($"{owner}: field {field} is {length} bytes, expected {size}");
        }

        var value = default(T);
        ReadExactly(r, MemoryMarshal.AsBytes(new Span<T>(ref value)), owner, field);
        return value;
    }

    /// <summary>A blob of at most <paramref name="maxLength"/> bytes whose length is a multiple of <paramref name="unit"/>.</summary>
    public static byte[] ReadBytes(BinaryReader r, string owner, string field, int maxLength, int unit = 1)
    {
        var length = ReadInt32(r, owner, field);
        if (length < 0 || length > maxLength || length % unit != 0)
        {
            throw new InvalidDataException(
                $"{owner}: field {field} is {length} bytes, expected a multiple of {unit} up to {maxLength}");
        }

        var bytes = new byte[length];
        ReadExactly(r, bytes, owner, field);
        return bytes;
    }

    public static T[] ReadArray<T>(BinaryReader r, string owner, string field, int maxCount)
        where T : unmanaged
    {
        var size = Unsafe.SizeOf<T>();
        var bytes = ReadBytes(r, owner, field, maxCount * size, size);
        return MemoryMarshal.Cast<byte, T>(bytes).ToArray();
    }

    public static int ReadInt32(BinaryReader r, string owner, string field)
    {
        Span<byte> bytes = stackalloc byte[4];
        ReadExactly(r, bytes, owner, field);
        return System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(bytes);
    }

    public static uint ReadUInt32(BinaryReader r, string owner, string field) => (uint)ReadInt32(r, owner, field);

    private static void ReadExactly(BinaryReader r, Span<byte> destination, string owner, string field)
    {
        var done = 0;
        while (done < destination.Length)
        {
            var n = r.Read(destination[done..]);
            if (n == 0)
            {
                throw new InvalidDataException($"{owner}: the data ends inside field {field}");
            }

            done += n;
        }
    }
}
