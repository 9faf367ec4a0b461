namespace ActorVmm.Devices.Net;

/// <summary>
/// How a frame travels between a NIC, its port and the network: a 12-byte virtio_net_hdr_v1 (flags, gso_type,
/// hdr_len, gso_size, csum_start, csum_offset, num_buffers; little-endian), then the Ethernet frame (destination MAC,
/// source MAC, EtherType, payload) — the layout a TAP with IFF_VNET_HDR and a vnet header size of 12 reads and writes.
/// </summary>
public static class NetFrame
{
    /// <summary>Bytes of the virtio_net_hdr_v1 in front of every frame.</summary>
    public const int HeaderSize = 12;

    /// <summary>Destination, source and EtherType.</summary>
    public const int EthernetHeaderSize = 14;

    /// <summary>Largest frame accepted anywhere (header + Ethernet frame): a 64 KiB GSO frame and its headers.</summary>
    public const int MaxSize = HeaderSize + EthernetHeaderSize + 65535;

    /// <summary>Whether <paramref name="frame"/> holds at least the virtio header and an Ethernet header.</summary>
    public static bool HasEthernetHeader(ReadOnlySpan<byte> frame) => frame.Length >= HeaderSize + EthernetHeaderSize;

    /// <summary>The destination MAC of a frame that <see cref="HasEthernetHeader"/>.</summary>
    public static MacAddress Destination(ReadOnlySpan<byte> frame) => new(frame.Slice(HeaderSize, 6));

    /// <summary>The source MAC of a frame that <see cref="HasEthernetHeader"/>.</summary>
    public static MacAddress Source(ReadOnlySpan<byte> frame) => new(frame.Slice(HeaderSize + 6, 6));

    /// <summary>The Ethernet frame without the virtio header (what a capture or a peer without vnet headers sees).</summary>
    public static ReadOnlySpan<byte> Ethernet(ReadOnlySpan<byte> frame) => frame.Length > HeaderSize ? frame[HeaderSize..] : [];
}
