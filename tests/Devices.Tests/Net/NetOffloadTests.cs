using System.Buffers.Binary;
using ActorVmm.Devices.Net;
using Xunit;

namespace ActorVmm.Devices.Tests.Net;

public sealed class NetOffloadTests
{
    private const ulong GuestCsumOnly = VirtioNetFeatures.GuestCsum;
    private const ulong GuestTso4 = VirtioNetFeatures.GuestCsum | VirtioNetFeatures.GuestTso4;

    [Fact]
    public void Checksum_should_match_a_known_IPv4_header()
    {
        // The classic example header 4500 0073 0000 4000 4011 [b861] c0a8 0001 c0a8 00c7.
        byte[] header = [0x45, 0, 0, 0x73, 0, 0, 0x40, 0, 0x40, 0x11, 0, 0, 0xC0, 0xA8, 0, 1, 0xC0, 0xA8, 0, 0xC7];

        var checksum = (ushort)~NetChecksum.Fold(NetChecksum.Add(0, header));

        Assert.Equal(0xB861, checksum);
    }

    [Fact]
    public void Completing_a_partial_checksum_should_fill_the_known_IPv4_header_checksum()
    {
        // csum_start at the IP header, csum_offset at its checksum field: the completed sum is the header checksum.
        byte[] header = [0x45, 0, 0, 0x73, 0, 0, 0x40, 0, 0x40, 0x11, 0, 0, 0xC0, 0xA8, 0, 1, 0xC0, 0xA8, 0, 0xC7];
        var frame = TestFrames.Raw(14 + header.Length, VirtioNetHeader.FlagNeedsCsum, csumStart: 14, csumOffset: 10);
        header.CopyTo(frame, NetFrame.HeaderSize + 14);

        Assert.True(NetOffload.TryCompleteChecksum(frame));

        Assert.Equal(0xB861, BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(NetFrame.HeaderSize + 14 + 10)));
        Assert.Equal(0, VirtioNetHeader.Flags(frame));
    }

    [Fact]
    public void Finalize_should_complete_a_partial_TCP_checksum_for_a_driver_without_GUEST_CSUM()
    {
        var frame = TestFrames.TcpV4(333);
        var before = TestFrames.TcpV4Verifies(frame);
        var output = new List<byte[]>();

        Assert.True(NetOffload.TryFinalize(frame, 0, output));

        Assert.False(before);
        var finished = Assert.Single(output);
        Assert.True(TestFrames.TcpV4Verifies(finished));
        Assert.Equal(0, VirtioNetHeader.Flags(finished));
        Assert.NotSame(frame, finished);
        Assert.False(TestFrames.TcpV4Verifies(frame));
        Assert.Equal(VirtioNetHeader.FlagNeedsCsum, VirtioNetHeader.Flags(frame));
    }

    [Fact]
    public void Finalize_should_pass_a_partial_checksum_to_a_driver_with_GUEST_CSUM()
    {
        var frame = TestFrames.TcpV4(100);
        var output = new List<byte[]>();

        Assert.True(NetOffload.TryFinalize(frame, GuestCsumOnly, output));

        Assert.Same(frame, Assert.Single(output));
        Assert.Equal(VirtioNetHeader.FlagNeedsCsum, VirtioNetHeader.Flags(frame));
        Assert.False(TestFrames.TcpV4Verifies(frame));
    }

    [Fact]
    public void Finalize_should_pass_a_TSO4_frame_to_a_driver_with_GUEST_TSO4()
    {
        var frame = TestFrames.TcpV4(10_000, mss: 1448);
        var output = new List<byte[]>();

        Assert.True(NetOffload.TryFinalize(frame, GuestTso4, output));

        Assert.Same(frame, Assert.Single(output));
    }

    [Fact]
    public void Segmenting_a_10_KB_TCP_IPv4_frame_should_yield_MSS_pieces_whose_checksums_verify()
    {
        const int payload = 10_000;
        const ushort mss = 1448;
        var frame = TestFrames.TcpV4(payload, mss, tcpFlags: 0x19 | 0x80, seq: 0xFFFF_F000, id: 0xFFFE);
        var output = new List<byte[]>();

        Assert.True(NetOffload.TryFinalize(frame, GuestCsumOnly, output));

        Assert.Equal((payload + mss - 1) / mss, output.Count);
        var reassembled = new List<byte>();
        for (var i = 0; i < output.Count; i++)
        {
            var segment = output[i];
            var e = segment.AsSpan(NetFrame.HeaderSize);
            var tcp = e[TestFrames.TcpV4Offset..];
            Assert.True(TestFrames.TcpV4Verifies(segment), $"segment {i} does not verify");
            Assert.Equal(0, VirtioNetHeader.Flags(segment));
            Assert.Equal(VirtioNetHeader.GsoNone, VirtioNetHeader.GsoType(segment));
            Assert.Equal(i + 1 < output.Count ? mss : payload - ((output.Count - 1) * mss), tcp.Length - 20);
            Assert.Equal(unchecked(0xFFFF_F000u + (uint)(i * mss)), BinaryPrimitives.ReadUInt32BigEndian(tcp[4..]));
            Assert.Equal((ushort)(0xFFFE + i), BinaryPrimitives.ReadUInt16BigEndian(e[(TestFrames.Ipv4Offset + 4)..]));
            var last = i + 1 == output.Count;
            Assert.Equal(last ? 0x19 : 0x10, tcp[13] & 0x19);
            Assert.Equal(i == 0 ? 0x80 : 0, tcp[13] & 0x80);
            reassembled.AddRange(tcp[20..].ToArray());
        }

        Assert.Equal(Enumerable.Range(0, payload).Select(TestFrames.PayloadByte), reassembled);
    }

    [Fact]
    public void Segmenting_a_TCP_IPv6_frame_should_yield_pieces_whose_checksums_verify()
    {
        var frame = TestFrames.TcpV6(5000, mss: 1400);
        var output = new List<byte[]>();

        Assert.True(NetOffload.TryFinalize(frame, GuestTso4, output));

        Assert.Equal(4, output.Count);
        Assert.All(output, s => Assert.True(TestFrames.TcpV6Verifies(s)));
        Assert.Equal(5000, output.Sum(s => s.Length - NetFrame.HeaderSize - TestFrames.TcpV6Offset - 20));
    }

    [Fact]
    public void Finalize_should_refuse_UDP_GSO_and_frames_whose_headers_do_not_add_up()
    {
        var udp = TestFrames.Raw(2000, VirtioNetHeader.FlagNeedsCsum, VirtioNetHeader.GsoUdp, 1000, 34, 6);
        var tsoOnArp = TestFrames.Raw(2000, VirtioNetHeader.FlagNeedsCsum, VirtioNetHeader.GsoTcpV4, 1000, 34, 16);
        var zeroMss = TestFrames.TcpV4(3000, mss: 1448);
        VirtioNetHeader.Write(zeroMss, VirtioNetHeader.FlagNeedsCsum, VirtioNetHeader.GsoTcpV4, 54, 0, 34, 16);
        var tinyMss = TestFrames.TcpV4(60_000, mss: 1);
        var badCsum = TestFrames.Raw(100, VirtioNetHeader.FlagNeedsCsum, csumStart: 90, csumOffset: 16);
        var runt = new byte[NetFrame.HeaderSize + 10];
        var output = new List<byte[]>();

        Assert.False(NetOffload.TryFinalize(udp, 0, output));
        Assert.False(NetOffload.TryFinalize(tsoOnArp, 0, output));
        Assert.False(NetOffload.TryFinalize(zeroMss, 0, output));
        Assert.False(NetOffload.TryFinalize(tinyMss, 0, output));
        Assert.False(NetOffload.TryFinalize(badCsum, 0, output));
        Assert.False(NetOffload.TryFinalize(runt, 0, output));
        Assert.Empty(output);
    }

    [Fact]
    public void Finalize_should_survive_random_corruption_of_GSO_frames()
    {
        var random = new Random(19);
        var output = new List<byte[]>();
        for (var round = 0; round < 2000; round++)
        {
            var frame = random.Next(2) == 0 ? TestFrames.TcpV4(random.Next(0, 9000), (ushort)random.Next(1, 3000)) : TestFrames.TcpV6(random.Next(0, 9000), (ushort)random.Next(1, 3000));
            for (var flips = random.Next(1, 6); flips > 0; flips--)
            {
                frame[random.Next(Math.Min(frame.Length, 120))] = (byte)random.Next(256);
            }

            if (random.Next(4) == 0)
            {
                Array.Resize(ref frame, random.Next(0, frame.Length));
            }

            output.Clear();
            var ok = NetOffload.TryFinalize(frame, (ulong)random.Next(0, 512), output);

            Assert.Equal(ok, output.Count > 0);
            Assert.True(output.Count <= NetOffload.MaxSegments);
            Assert.All(output, f => Assert.InRange(f.Length, NetFrame.HeaderSize + NetFrame.EthernetHeaderSize, NetFrame.MaxSize));
        }
    }
}
