using System.Buffers.Binary;
using ActorVmm.Actors.Net;
using ActorVmm.Devices.Net;
using ActorVmm.TestSupport.Net;
using Xunit;

namespace ActorVmm.Actors.Tests.Net;

public sealed class PcapWriterSpecs : IDisposable
{
    private static readonly MacAddress _other = new([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
    private readonly string _dir = Directory.CreateTempSubdirectory("actorvmm-pcap-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Captured_frames_should_be_written_without_the_vnet_header_in_a_classic_pcap()
    {
        var path = Path.Combine(_dir, "a.pcap");
        var frames = new[] { Arp(NetTestFrames.Guest), Ipv4(_other, NetTestFrames.Guest, 1000), Arp(_other) };
        var before = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

        using (var pcap = new PcapWriter(path))
        {
            foreach (var frame in frames)
            {
                pcap.Capture(frame);
            }
        }

        var after = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var bytes = File.ReadAllBytes(path);
        Assert.Equal(0xa1b2c3d4u, BinaryPrimitives.ReadUInt32LittleEndian(bytes));
        Assert.Equal(2, BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(4)));
        Assert.Equal(4, BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(6)));
        Assert.Equal(262144, BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(16)));
        Assert.Equal(1, BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(20)));
        var offset = 24;
        var lastMicros = 0L;
        foreach (var frame in frames)
        {
            var seconds = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(offset));
            var micros = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(offset + 4));
            var included = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(offset + 8));
            var original = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(offset + 12));
            Assert.InRange(seconds, before - 1, after + 1);
            Assert.InRange(micros, 0u, 999_999u);
            Assert.True(seconds * 1_000_000L + micros >= lastMicros, "timestamps go backwards");
            lastMicros = seconds * 1_000_000L + micros;
            Assert.Equal(frame.Length - NetFrame.HeaderSize, included);
            Assert.Equal(included, original);
            Assert.Equal(NetFrame.Ethernet(frame).ToArray(), bytes.AsSpan(offset + 16, included).ToArray());
            offset += 16 + included;
        }

        Assert.Equal(bytes.Length, offset);
    }

    [Fact]
    public void Tcpdump_should_decode_the_captured_addresses_and_ethertypes()
    {
        var path = Path.Combine(_dir, "b.pcap");
        using (var pcap = new PcapWriter(path))
        {
            pcap.Capture(Arp(NetTestFrames.Guest));
            pcap.Capture(Ipv4(_other, NetTestFrames.Guest, 64));
            Assert.Equal(0, pcap.Dropped);
        }

        var (exitCode, output) = ScratchTap.Run("tcpdump", $"-r {path} -nn -e");

        Assert.True(exitCode == 0, $"tcpdump -r failed ({exitCode}): {output}");
        var lines = output.Split('\n').Where(l => l.Contains(" > ", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, lines.Count);
        Assert.Contains("02:00:00:aa:bb:cc > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42", lines[0]);
        Assert.Contains("Request who-has 10.0.0.1 tell 10.0.0.2", lines[0]);
        Assert.Contains("52:54:00:12:34:56 > 02:00:00:aa:bb:cc, ethertype IPv4 (0x0800), length 98", lines[1]);
        Assert.Contains("10.0.0.1 > 10.0.0.2", lines[1]);
    }

    [Fact]
    public void A_capture_file_that_cannot_be_created_should_be_one_line_naming_the_path()
    {
        var path = Path.Combine(_dir, "no-such-dir", "c.pcap");

        var ex = Assert.Throws<IOException>(() => new PcapWriter(path));

        Assert.StartsWith($"cannot create capture file '{path}': ", ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void Frames_beyond_the_queue_bound_and_malformed_or_late_frames_should_be_dropped_and_counted()
    {
        var path = Path.Combine(_dir, "d.pcap");
        var pcap = new PcapWriter(path, queueBytes: 100);

        pcap.Capture(Ipv4(_other, NetTestFrames.Guest, 200)); // larger than the whole queue
        pcap.Capture(new byte[NetFrame.HeaderSize + 5]); // no Ethernet header
        pcap.Capture(Arp(NetTestFrames.Guest));
        pcap.Dispose();
        pcap.Capture(Arp(NetTestFrames.Guest)); // after dispose

        Assert.Equal(3, pcap.Dropped);
        Assert.Equal(1, pcap.Captured);
        Assert.Null(pcap.Failure);
        Assert.Equal(24 + 16 + 42, new FileInfo(path).Length);
    }

    [Fact]
    public void Concurrent_captures_should_each_be_written_whole()
    {
        var path = Path.Combine(_dir, "e.pcap");
        const int threads = 4;
        const int perThread = 500;
        using (var pcap = new PcapWriter(path, queueFrames: threads * perThread))
        {
            Parallel.For(0, threads, t =>
            {
                for (var i = 0; i < perThread; i++)
                {
                    pcap.Capture(Ipv4(_other, NetTestFrames.Guest, 60 + ((t * perThread + i) % 1400)));
                }
            });
        }

        var bytes = File.ReadAllBytes(path);
        var offset = 24;
        var records = 0;
        while (offset < bytes.Length)
        {
            var included = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(offset + 8));
            var ip = bytes.AsSpan(offset + 16 + 14);
            Assert.Equal(included - 14, BinaryPrimitives.ReadUInt16BigEndian(ip[2..])); // IPv4 total length matches
            offset += 16 + included;
            records++;
        }

        Assert.Equal(threads * perThread, records);
    }

    private static byte[] Arp(MacAddress sender) => NetTestFrames.ArpRequest(sender, [10, 0, 0, 2], [10, 0, 0, 1]);

    /// <summary>An ICMP-less IPv4 frame (protocol 253, for experiments) from 10.0.0.1 to 10.0.0.2 with <paramref name="payload"/> bytes.</summary>
    private static byte[] Ipv4(MacAddress source, MacAddress destination, int payload)
    {
        var frame = new byte[NetFrame.HeaderSize + NetFrame.EthernetHeaderSize + 20 + payload];
        var eth = frame.AsSpan(NetFrame.HeaderSize);
        destination.CopyTo(eth);
        source.CopyTo(eth[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(eth[12..], 0x0800);
        var ip = eth[14..];
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(20 + payload));
        ip[8] = 64;
        ip[9] = 253;
        ((byte[])[10, 0, 0, 1]).CopyTo(ip[12..]);
        ((byte[])[10, 0, 0, 2]).CopyTo(ip[16..]);
        return frame;
    }
}
