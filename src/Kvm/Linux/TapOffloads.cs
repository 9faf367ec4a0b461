namespace ActorVmm.Kvm.Linux;

/// <summary>
/// TUNSETOFFLOAD flags (TUN_F_*): the kinds of frame the reader of a TAP accepts. Without <see cref="Checksum"/> the
/// kernel completes every checksum before handing a frame over, and it refuses the other flags (EINVAL); without a
/// TSO flag it segments large TCP sends itself.
/// </summary>
[Flags]
public enum TapOffloads
{
    None = 0,

    /// <summary>TUN_F_CSUM: frames may carry a partial checksum (VIRTIO_NET_HDR_F_NEEDS_CSUM).</summary>
    Checksum = 0x01,

    /// <summary>TUN_F_TSO4: TCP over IPv4 frames up to 64 KiB (GSO).</summary>
    Tso4 = 0x02,

    /// <summary>TUN_F_TSO6: TCP over IPv6 frames up to 64 KiB (GSO).</summary>
    Tso6 = 0x04,

    /// <summary>TUN_F_TSO_ECN: TSO frames may have ECN's CWR set (only with a TSO flag).</summary>
    TsoEcn = 0x08,

    /// <summary>TUN_F_UFO: UDP fragmentation offload (accepted by current kernels, which no longer produce it).</summary>
    Ufo = 0x10,
}
