using System.Buffers.Binary;

namespace ActorVmm.Devices.Net;

/// <summary>
/// Makes a frame from the network fit what a driver accepted: a partial checksum (NEEDS_CSUM) is completed when the
/// driver lacks VIRTIO_NET_F_GUEST_CSUM, a TCP GSO frame of a type it did not accept (GUEST_TSO4 / GUEST_TSO6) is
/// segmented into gso_size pieces with their IP and TCP headers fixed up. Frames it cannot make acceptable (UDP GSO,
/// IP options it cannot walk, lengths that do not add up) are refused, for the caller to drop and count.
/// Everything here reads untrusted bytes: every offset is checked and the work per frame is bounded.
/// </summary>
public static class NetOffload
{
    /// <summary>Most segments one GSO frame may become (65535 bytes at a 32-byte MSS); more is refused.</summary>
    public const int MaxSegments = 2048;

    private const ushort EtherTypeIPv4 = 0x0800;
    private const ushort EtherTypeIPv6 = 0x86DD;
    private const ushort EtherTypeVlan = 0x8100;
    private const byte ProtocolTcp = 6;
    private const byte TcpFin = 0x01;
    private const byte TcpPsh = 0x08;
    private const byte TcpCwr = 0x80;

    /// <summary>
    /// Appends to <paramref name="output"/> the frames (virtio header + Ethernet) that deliver <paramref name="frame"/>
    /// to a driver that accepted <paramref name="ackedFeatures"/>: the frame itself when it needs no change, else a
    /// finished copy or its segments (<paramref name="frame"/> is never changed: a switch may share it among ports).
    /// Returns false, appending nothing, when the frame is malformed or cannot be made acceptable.
    /// </summary>
    public static bool TryFinalize(byte[] frame, ulong ackedFeatures, List<byte[]> output)
    {
        ArgumentNullException.ThrowIfNull(frame);
        ArgumentNullException.ThrowIfNull(output);
        if (!NetFrame.HasEthernetHeader(frame) || frame.Length > NetFrame.MaxSize)
        {
            return false;
        }

        var guestCsum = (ackedFeatures & VirtioNetFeatures.GuestCsum) != 0;
        var gso = VirtioNetHeader.GsoType(frame);
        if (gso != VirtioNetHeader.GsoNone)
        {
            var accepted = guestCsum && (gso & VirtioNetHeader.GsoEcn) == 0
                && ((gso == VirtioNetHeader.GsoTcpV4 && (ackedFeatures & VirtioNetFeatures.GuestTso4) != 0)
                    || (gso == VirtioNetHeader.GsoTcpV6 && (ackedFeatures & VirtioNetFeatures.GuestTso6) != 0));
            if (accepted)
            {
                output.Add(WithFlags(frame, (byte)(frame[0] & (VirtioNetHeader.FlagNeedsCsum | VirtioNetHeader.FlagDataValid))));
                return true;
            }

            return TrySegment(frame, output);
        }

        if ((VirtioNetHeader.Flags(frame) & VirtioNetHeader.FlagNeedsCsum) != 0 && !guestCsum)
        {
            var finished = (byte[])frame.Clone();
            if (!TryCompleteChecksum(finished))
            {
                return false;
            }

            output.Add(finished);
            return true;
        }

        // Without GUEST_CSUM the driver must see flags zero (virtio 1.x, 5.1.6.4.1); with it, only the flags it knows.
        output.Add(WithFlags(frame, guestCsum ? (byte)(frame[0] & (VirtioNetHeader.FlagNeedsCsum | VirtioNetHeader.FlagDataValid)) : (byte)0));
        return true;
    }

    /// <summary><paramref name="frame"/> when its flags already are <paramref name="flags"/>, else a copy with them.</summary>
    private static byte[] WithFlags(byte[] frame, byte flags)
    {
        if (frame[0] == flags)
        {
            return frame;
        }

        var copy = (byte[])frame.Clone();
        copy[0] = flags;
        return copy;
    }

    /// <summary>
    /// Completes a NEEDS_CSUM frame's checksum in place: the ones-complement sum from csum_start to the end (the field
    /// already holds the pseudo-header sum), stored at csum_start + csum_offset; clears the flags. False when the
    /// offsets lie outside the frame.
    /// </summary>
    public static bool TryCompleteChecksum(Span<byte> frame)
    {
        if (!NetFrame.HasEthernetHeader(frame))
        {
            return false;
        }

        var ethernet = frame[NetFrame.HeaderSize..];
        int start = VirtioNetHeader.CsumStart(frame);
        var field = start + VirtioNetHeader.CsumOffset(frame);
        if (field + 2 > ethernet.Length)
        {
            return false;
        }

        BinaryPrimitives.WriteUInt16BigEndian(ethernet[field..], NetChecksum.Finish(NetChecksum.Add(0, ethernet[start..])));
        frame[0] = 0;
        return true;
    }

    /// <summary>Splits a TCP/IPv4 or TCP/IPv6 GSO frame into fully checksummed frames of at most gso_size payload.</summary>
    public static bool TrySegment(byte[] frame, List<byte[]> output)
    {
        ArgumentNullException.ThrowIfNull(frame);
        ArgumentNullException.ThrowIfNull(output);
        if (!NetFrame.HasEthernetHeader(frame) || frame.Length > NetFrame.MaxSize)
        {
            return false;
        }

        var gso = VirtioNetHeader.GsoType(frame) & ~VirtioNetHeader.GsoEcn;
        int mss = VirtioNetHeader.GsoSize(frame);
        if ((gso != VirtioNetHeader.GsoTcpV4 && gso != VirtioNetHeader.GsoTcpV6) || mss == 0
            || !TryParseTcp(frame.AsSpan(NetFrame.HeaderSize), gso == VirtioNetHeader.GsoTcpV4, out var l3, out var l4, out var headers))
        {
            return false;
        }

        var ethernet = frame.AsSpan(NetFrame.HeaderSize);
        var payload = ethernet.Length - headers;
        var count = Math.Max(1, (payload + mss - 1) / mss);
        if (count > MaxSegments)
        {
            return false;
        }

        var ipv4 = gso == VirtioNetHeader.GsoTcpV4;
        var id = BinaryPrimitives.ReadUInt16BigEndian(ethernet[(l3 + 4)..]);
        var seq = BinaryPrimitives.ReadUInt32BigEndian(ethernet[(l4 + 4)..]);
        var first = output.Count;
        for (var i = 0; i < count; i++)
        {
            var offset = i * mss;
            var length = Math.Min(mss, payload - offset);
            var segment = new byte[NetFrame.HeaderSize + headers + length];
            var e = segment.AsSpan(NetFrame.HeaderSize);
            ethernet[..headers].CopyTo(e);
            ethernet.Slice(headers + offset, length).CopyTo(e[headers..]);
            var l4Length = headers - l4 + length;
            if (ipv4)
            {
                BinaryPrimitives.WriteUInt16BigEndian(e[(l3 + 2)..], (ushort)(l4 - l3 + l4Length));
                BinaryPrimitives.WriteUInt16BigEndian(e[(l3 + 4)..], (ushort)(id + i));
                BinaryPrimitives.WriteUInt16BigEndian(e[(l3 + 10)..], 0);
                BinaryPrimitives.WriteUInt16BigEndian(e[(l3 + 10)..], (ushort)~NetChecksum.Fold(NetChecksum.Add(0, e[l3..l4])));
            }
            else
            {
                BinaryPrimitives.WriteUInt16BigEndian(e[(l3 + 4)..], (ushort)(l4 - l3 - 40 + l4Length));
            }

            BinaryPrimitives.WriteUInt32BigEndian(e[(l4 + 4)..], seq + (uint)offset);
            if (i + 1 < count)
            {
                e[l4 + 13] &= unchecked((byte)~(TcpFin | TcpPsh));
            }

            if (i > 0)
            {
                e[l4 + 13] &= unchecked((byte)~TcpCwr);
            }

            BinaryPrimitives.WriteUInt16BigEndian(e[(l4 + 16)..], 0);
            var pseudo = ipv4
                ? NetChecksum.PseudoHeaderV4(e[(l3 + 12)..], e[(l3 + 16)..], ProtocolTcp, l4Length)
                : NetChecksum.PseudoHeaderV6(e[(l3 + 8)..], e[(l3 + 24)..], ProtocolTcp, l4Length);
            BinaryPrimitives.WriteUInt16BigEndian(e[(l4 + 16)..], NetChecksum.Finish(NetChecksum.Add(pseudo, e[l4..])));
            output.Add(segment);
        }

        return output.Count > first;
    }

    /// <summary>
    /// Finds the IP header (<paramref name="l3"/>), the TCP header (<paramref name="l4"/>) and where the payload starts
    /// (<paramref name="headers"/>) in an Ethernet frame, with at most one VLAN tag; IPv6 without extension headers.
    /// </summary>
    private static bool TryParseTcp(ReadOnlySpan<byte> ethernet, bool ipv4, out int l3, out int l4, out int headers)
    {
        l3 = l4 = headers = 0;
        var etherType = BinaryPrimitives.ReadUInt16BigEndian(ethernet[12..]);
        l3 = NetFrame.EthernetHeaderSize;
        if (etherType == EtherTypeVlan)
        {
            if (ethernet.Length < l3 + 4)
            {
                return false;
            }

            etherType = BinaryPrimitives.ReadUInt16BigEndian(ethernet[16..]);
            l3 += 4;
        }

        if (ipv4)
        {
            if (etherType != EtherTypeIPv4 || ethernet.Length < l3 + 20 || (ethernet[l3] >> 4) != 4 || ethernet[l3 + 9] != ProtocolTcp)
            {
                return false;
            }

            l4 = l3 + ((ethernet[l3] & 0x0F) * 4);
            if (l4 < l3 + 20)
            {
                return false;
            }
        }
        else
        {
            if (etherType != EtherTypeIPv6 || ethernet.Length < l3 + 40 || (ethernet[l3] >> 4) != 6 || ethernet[l3 + 6] != ProtocolTcp)
            {
                return false;
            }

            l4 = l3 + 40;
        }

        if (ethernet.Length < l4 + 20)
        {
            return false;
        }

        headers = l4 + ((ethernet[l4 + 12] >> 4) * 4);
        return headers >= l4 + 20 && headers <= ethernet.Length;
    }
}
