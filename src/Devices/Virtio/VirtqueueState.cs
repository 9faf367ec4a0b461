namespace ActorVmm.Devices.Virtio;

/// <summary>An immutable snapshot of a split virtqueue's configuration and position.</summary>
public sealed record VirtqueueState(
    ushort Size,
    bool Ready,
    ulong DescTable,
    ulong AvailRing,
    ulong UsedRing,
    ushort NextAvail,
    ushort NextUsed,
    bool EventIdxEnabled,
    bool IndirectEnabled,
    ushort? SignalledUsed,
    bool Broken)
{
    /// <summary>The ring position of a request whose serving threw once (it is retried once, then failed).</summary>
    public ushort? FailedOnce { get; init; }
}
