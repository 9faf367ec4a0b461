namespace ActorVmm.Devices.Net;

/// <summary>virtio-net feature bits (virtio 1.x, section 5.1.3) this device knows.</summary>
public static class VirtioNetFeatures
{
    /// <summary>VIRTIO_NET_F_CSUM: the device takes frames with a partial checksum (NEEDS_CSUM) from the driver.</summary>
    public const ulong Csum = 1UL << 0;

    /// <summary>VIRTIO_NET_F_GUEST_CSUM: the driver takes frames with a partial checksum.</summary>
    public const ulong GuestCsum = 1UL << 1;

    /// <summary>VIRTIO_NET_F_MTU: the config space's mtu is valid.</summary>
    public const ulong Mtu = 1UL << 3;

    /// <summary>VIRTIO_NET_F_MAC: the config space's mac is valid.</summary>
    public const ulong Mac = 1UL << 5;

    /// <summary>VIRTIO_NET_F_GUEST_TSO4: the driver takes TCP/IPv4 GSO frames.</summary>
    public const ulong GuestTso4 = 1UL << 7;

    /// <summary>VIRTIO_NET_F_GUEST_TSO6: the driver takes TCP/IPv6 GSO frames.</summary>
    public const ulong GuestTso6 = 1UL << 8;

    /// <summary>VIRTIO_NET_F_HOST_TSO4: the device takes TCP/IPv4 GSO frames.</summary>
    public const ulong HostTso4 = 1UL << 11;

    /// <summary>VIRTIO_NET_F_HOST_TSO6: the device takes TCP/IPv6 GSO frames.</summary>
    public const ulong HostTso6 = 1UL << 12;

    /// <summary>VIRTIO_NET_F_MRG_RXBUF: a received frame may span several receive buffers (num_buffers).</summary>
    public const ulong MrgRxBuf = 1UL << 15;

    /// <summary>VIRTIO_NET_F_STATUS: the config space's status is valid.</summary>
    public const ulong Status = 1UL << 16;

    /// <summary>What <see cref="VirtioNetDevice"/> offers besides the transport bits (what Firecracker offers).</summary>
    public const ulong Offered = Csum | GuestCsum | Mtu | Mac | GuestTso4 | GuestTso6 | HostTso4 | HostTso6 | MrgRxBuf | Status;
}
