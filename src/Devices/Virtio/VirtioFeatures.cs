namespace ActorVmm.Devices.Virtio;

/// <summary>Feature bits shared by all virtio devices (virtio 1.x, section 6).</summary>
public static class VirtioFeatures
{
    /// <summary>VIRTIO_RING_F_INDIRECT_DESC: the driver may use indirect descriptor tables.</summary>
    public const ulong RingIndirectDesc = 1UL << 28;

    /// <summary>VIRTIO_RING_F_EVENT_IDX: used_event / avail_event notification suppression.</summary>
    public const ulong RingEventIdx = 1UL << 29;

    /// <summary>VIRTIO_F_VERSION_1: a modern (non-legacy) device; required by this transport.</summary>
    public const ulong Version1 = 1UL << 32;

    /// <summary>The transport-level features every device here offers.</summary>
    public const ulong TransportDefault = Version1 | RingEventIdx | RingIndirectDesc;
}
