using System.Buffers.Binary;

namespace ActorVmm.Devices.Net;

/// <summary>
/// Fields of the 12-byte virtio_net_hdr_v1 at the start of a <see cref="NetFrame"/> (little-endian). csum_start and
/// csum_offset count from the start of the Ethernet frame, not of the header.
/// </summary>
public static class VirtioNetHeader
{
    /// <summary>VIRTIO_NET_HDR_F_NEEDS_CSUM: the checksum at csum_start + csum_offset still has to be completed.</summary>
    public const byte FlagNeedsCsum = 1;

    /// <summary>VIRTIO_NET_HDR_F_DATA_VALID: the checksum was verified (receive side only).</summary>
    public const byte FlagDataValid = 2;

    public const byte GsoNone = 0;
    public const byte GsoTcpV4 = 1;
    public const byte GsoUdp = 3;
    public const byte GsoTcpV6 = 4;
    public const byte GsoUdpL4 = 5;

    /// <summary>VIRTIO_NET_HDR_GSO_ECN: the frame has the TCP CWR/ECE bits set (needs HOST_ECN / GUEST_ECN).</summary>
    public const byte GsoEcn = 0x80;

    public static byte Flags(ReadOnlySpan<byte> frame) => frame[0];

    public static byte GsoType(ReadOnlySpan<byte> frame) => frame[1];

    public static ushort HdrLen(ReadOnlySpan<byte> frame) => BinaryPrimitives.ReadUInt16LittleEndian(frame[2..]);

    public static ushort GsoSize(ReadOnlySpan<byte> frame) => BinaryPrimitives.ReadUInt16LittleEndian(frame[4..]);

    public static ushort CsumStart(ReadOnlySpan<byte> frame) => BinaryPrimitives.ReadUInt16LittleEndian(frame[6..]);

    public static ushort CsumOffset(ReadOnlySpan<byte> frame) => BinaryPrimitives.ReadUInt16LittleEndian(frame[8..]);

    public static ushort NumBuffers(ReadOnlySpan<byte> frame) => BinaryPrimitives.ReadUInt16LittleEndian(frame[10..]);

    /// <summary>Writes a whole header.</summary>
    public static void Write(
        Span<byte> frame, byte flags, byte gsoType, ushort hdrLen = 0, ushort gsoSize = 0, ushort csumStart = 0,
        ushort csumOffset = 0, ushort numBuffers = 0)
    {
        frame[0] = flags;
        frame[1] = gsoType;
        BinaryPrimitives.WriteUInt16LittleEndian(frame[2..], hdrLen);
        BinaryPrimitives.WriteUInt16LittleEndian(frame[4..], gsoSize);
        BinaryPrimitives.WriteUInt16LittleEndian(frame[6..], csumStart);
        BinaryPrimitives.WriteUInt16LittleEndian(frame[8..], csumOffset);
        BinaryPrimitives.WriteUInt16LittleEndian(frame[10..], numBuffers);
    }

    public static void SetNumBuffers(Span<byte> frame, ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(frame[10..], value);
}
