using System.Buffers.Binary;

namespace ActorVmm.Devices.Net;

/// <summary>The Internet checksum (RFC 1071): a ones-complement sum of big-endian 16-bit words.</summary>
public static class NetChecksum
{
    /// <summary>Adds <paramref name="data"/> to <paramref name="sum"/> (an odd last byte is padded with zero).</summary>
    public static ulong Add(ulong sum, ReadOnlySpan<byte> data)
    {
        var i = 0;
        for (; i + 4 <= data.Length; i += 4)
        {
            sum += BinaryPrimitives.ReadUInt32BigEndian(data[i..]);
        }

        for (; i + 2 <= data.Length; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        }

        if (i < data.Length)
        {
            sum += (ulong)data[i] << 8;
        }

        return sum;
    }

    /// <summary>Folds a sum to 16 bits (not complemented).</summary>
    public static ushort Fold(ulong sum)
    {
        while ((sum >> 16) != 0)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }

        return (ushort)sum;
    }

    /// <summary>The checksum to store for <paramref name="sum"/>: complemented, 0 sent as 0xFFFF (same value, and UDP's "none" is 0).</summary>
    public static ushort Finish(ulong sum)
    {
        var value = (ushort)~Fold(sum);
        return value == 0 ? (ushort)0xFFFF : value;
    }

    /// <summary>The IPv4 TCP/UDP pseudo-header: addresses, protocol and L4 length.</summary>
    public static ulong PseudoHeaderV4(ReadOnlySpan<byte> source, ReadOnlySpan<byte> destination, byte protocol, int length) =>
        Add(Add(0, source[..4]), destination[..4]) + protocol + (ulong)length;

    /// <summary>The IPv6 pseudo-header: addresses, upper-layer length and next header.</summary>
    public static ulong PseudoHeaderV6(ReadOnlySpan<byte> source, ReadOnlySpan<byte> destination, byte protocol, int length) =>
        Add(Add(0, source[..16]), destination[..16]) + protocol + (ulong)length;

    /// <summary>Whether a header or segment (with its pseudo-header sum) verifies: everything sums to 0xFFFF.</summary>
    public static bool Verifies(ulong pseudo, ReadOnlySpan<byte> data) => Fold(Add(pseudo, data)) == 0xFFFF;
}
