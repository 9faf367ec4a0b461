using System.Buffers.Binary;
using ActorVmm.Devices.Net;

namespace ActorVmm.Devices.Tests.Net;

/// <summary>Frames (virtio header + Ethernet) for tests: raw ones, and TCP over IPv4/IPv6 as a sender hands them over.</summary>
internal static class TestFrames
{
    public const int Ipv4Offset = NetFrame.EthernetHeaderSize;
    public const int TcpV4Offset = Ipv4Offset + 20;
    public const int TcpV6Offset = Ipv4Offset + 40;

    private static readonly byte[] _srcV4 = [10, 0, 0, 1];
    private static readonly byte[] _dstV4 = [10, 0, 0, 2];

    /// <summary>A frame with <paramref name="ethernetLength"/> (at least 14) bytes after the header: broadcast, EtherType 0x88B5, a counting payload.</summary>
    public static byte[] Raw(int ethernetLength, byte flags = 0, byte gso = 0, ushort gsoSize = 0, ushort csumStart = 0, ushort csumOffset = 0)
    {
        var frame = new byte[NetFrame.HeaderSize + ethernetLength];
        VirtioNetHeader.Write(frame, flags, gso, 0, gsoSize, csumStart, csumOffset);
        var e = frame.AsSpan(NetFrame.HeaderSize);
        e[..6].Fill(0xFF);
        new byte[] { 0x52, 0x54, 0, 0xAA, 0xBB, 0xCC }.CopyTo(e[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(e[12..], 0x88B5);

        for (var i = NetFrame.EthernetHeaderSize; i < e.Length; i++)
        {
            e[i] = (byte)(i * 7);
        }

        return frame;
    }

    /// <summary>
    /// A TCP/IPv4 frame with <paramref name="payload"/> bytes, its TCP checksum left partial (the pseudo-header sum,
    /// NEEDS_CSUM with csum_start/csum_offset), and GSO TCPV4 at <paramref name="mss"/> when that is not 0.
    /// </summary>
    public static byte[] TcpV4(int payload, ushort mss = 0, byte tcpFlags = 0x18, uint seq = 1000, ushort id = 0x1234)
    {
        var tcpLength = 20 + payload;
        var frame = new byte[NetFrame.HeaderSize + TcpV4Offset + tcpLength];
        VirtioNetHeader.Write(
            frame, VirtioNetHeader.FlagNeedsCsum, mss == 0 ? VirtioNetHeader.GsoNone : VirtioNetHeader.GsoTcpV4,
            (ushort)(TcpV4Offset + 20), mss, TcpV4Offset, 16);
        var e = frame.AsSpan(NetFrame.HeaderSize);
        WriteEthernet(e, 0x0800);
        var ip = e[Ipv4Offset..];
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)Math.Min(65535, 20 + tcpLength));
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], id);
        ip[6] = 0x40;
        ip[8] = 64;
        ip[9] = 6;
        _srcV4.CopyTo(ip[12..]);
        _dstV4.CopyTo(ip[16..]);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], (ushort)~NetChecksum.Fold(NetChecksum.Add(0, ip[..20])));
        WriteTcp(e[TcpV4Offset..], payload, tcpFlags, seq);
        var pseudo = NetChecksum.PseudoHeaderV4(_srcV4, _dstV4, 6, tcpLength);
        BinaryPrimitives.WriteUInt16BigEndian(e[(TcpV4Offset + 16)..], NetChecksum.Fold(pseudo));
        return frame;
    }

    /// <summary>The TCP/IPv6 counterpart of <see cref="TcpV4"/> (GSO TCPV6).</summary>
    public static byte[] TcpV6(int payload, ushort mss = 0, byte tcpFlags = 0x18, uint seq = 1000)
    {
        var tcpLength = 20 + payload;
        var frame = new byte[NetFrame.HeaderSize + TcpV6Offset + tcpLength];
        VirtioNetHeader.Write(
            frame, VirtioNetHeader.FlagNeedsCsum, mss == 0 ? VirtioNetHeader.GsoNone : VirtioNetHeader.GsoTcpV6,
            (ushort)(TcpV6Offset + 20), mss, TcpV6Offset, 16);
        var e = frame.AsSpan(NetFrame.HeaderSize);
        WriteEthernet(e, 0x86DD);
        var ip = e[Ipv4Offset..];
        ip[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)tcpLength);
        ip[6] = 6;
        ip[7] = 64;
        ip[8] = 0xFD;
        ip[23] = 1;
        ip[24] = 0xFD;
        ip[39] = 2;
        WriteTcp(e[TcpV6Offset..], payload, tcpFlags, seq);
        var pseudo = NetChecksum.PseudoHeaderV6(ip[8..], ip[24..], 6, tcpLength);
        BinaryPrimitives.WriteUInt16BigEndian(e[(TcpV6Offset + 16)..], NetChecksum.Fold(pseudo));
        return frame;
    }

    /// <summary>Whether a TCP/IPv4 frame's IP header and TCP checksums verify.</summary>
    public static bool TcpV4Verifies(ReadOnlySpan<byte> frame)
    {
        var e = frame[NetFrame.HeaderSize..];
        var ip = e[Ipv4Offset..];
        var tcp = e[TcpV4Offset..];
        return NetChecksum.Verifies(0, ip[..20])
            && BinaryPrimitives.ReadUInt16BigEndian(ip[2..]) == e.Length - Ipv4Offset
            && NetChecksum.Verifies(NetChecksum.PseudoHeaderV4(ip[12..], ip[16..], 6, tcp.Length), tcp);
    }

    /// <summary>Whether a TCP/IPv6 frame's payload length and TCP checksum verify.</summary>
    public static bool TcpV6Verifies(ReadOnlySpan<byte> frame)
    {
        var e = frame[NetFrame.HeaderSize..];
        var ip = e[Ipv4Offset..];
        var tcp = e[TcpV6Offset..];
        return BinaryPrimitives.ReadUInt16BigEndian(ip[4..]) == tcp.Length
            && NetChecksum.Verifies(NetChecksum.PseudoHeaderV6(ip[8..], ip[24..], 6, tcp.Length), tcp);
    }

    public static byte PayloadByte(int index) => (byte)((index * 13) + 5);

    private static void WriteEthernet(Span<byte> e, ushort etherType)
    {
        new byte[] { 0x52, 0x54, 0, 0x12, 0x34, 0x56 }.CopyTo(e);
        new byte[] { 0x52, 0x54, 0, 0xAA, 0xBB, 0xCC }.CopyTo(e[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(e[12..], etherType);
    }

    private static void WriteTcp(Span<byte> tcp, int payload, byte flags, uint seq)
    {
        BinaryPrimitives.WriteUInt16BigEndian(tcp, 40000);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], 80);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], seq);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[8..], 77);
        tcp[12] = 0x50;
        tcp[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], 65535);
        for (var i = 0; i < payload; i++)
        {
            tcp[20 + i] = PayloadByte(i);
        }
    }
}
