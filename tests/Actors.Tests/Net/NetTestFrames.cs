using System.Buffers.Binary;
using ActorVmm.Devices.Net;

namespace ActorVmm.Actors.Tests.Net;

/// <summary>Frames the network specs send and look for, laid out as <see cref="NetFrame"/> says.</summary>
internal static class NetTestFrames
{
    public const ushort EtherTypeArp = 0x0806;

    public static readonly MacAddress Guest = new([0x02, 0x00, 0x00, 0xaa, 0xbb, 0xcc]);

    /// <summary>A broadcast ARP request: who has <paramref name="targetIp"/>? tell <paramref name="senderIp"/> at <paramref name="sender"/>.</summary>
    public static byte[] ArpRequest(MacAddress sender, byte[] senderIp, byte[] targetIp)
    {
        var frame = new byte[NetFrame.HeaderSize + NetFrame.EthernetHeaderSize + 28];
        var eth = frame.AsSpan(NetFrame.HeaderSize);
        MacAddress.Broadcast.CopyTo(eth);
        sender.CopyTo(eth[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(eth[12..], EtherTypeArp);
        var arp = eth[14..];
        BinaryPrimitives.WriteUInt16BigEndian(arp, 1); // Ethernet
        BinaryPrimitives.WriteUInt16BigEndian(arp[2..], 0x0800); // IPv4
        arp[4] = 6;
        arp[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(arp[6..], 1); // request
        sender.CopyTo(arp[8..]);
        senderIp.CopyTo(arp[14..]);
        targetIp.CopyTo(arp[24..]); // target MAC (18..23) stays zero
        return frame;
    }

    /// <summary>Whether <paramref name="frame"/> is an ARP reply from <paramref name="senderIp"/> to <paramref name="target"/>; its MAC if so.</summary>
    public static bool IsArpReply(byte[] frame, byte[] senderIp, MacAddress target, out MacAddress senderMac)
    {
        senderMac = default;
        var eth = NetFrame.Ethernet(frame);
        if (eth.Length < 14 + 28 || BinaryPrimitives.ReadUInt16BigEndian(eth[12..]) != EtherTypeArp)
        {
            return false;
        }

        var arp = eth[14..];
        if (BinaryPrimitives.ReadUInt16BigEndian(arp[6..]) != 2 || !arp.Slice(14, 4).SequenceEqual(senderIp)
            || new MacAddress(arp.Slice(18, 6)) != target || NetFrame.Destination(frame) != target)
        {
            return false;
        }

        senderMac = new MacAddress(arp.Slice(8, 6));
        return true;
    }
}
