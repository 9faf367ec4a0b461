namespace ActorVmm.Actors.Net;

/// <summary>Why a NIC's port dropped a frame (<see cref="NetPortCounters.Dropped"/>).</summary>
public enum NetDropReason
{
    /// <summary>Shorter than a virtio header and an Ethernet header, or longer than <see cref="ActorVmm.Devices.Net.NetFrame.MaxSize"/>.</summary>
    Malformed,

    /// <summary>The queue toward the guest was full (the guest does not refill its receive queue fast enough, or at all).</summary>
    RxQueueFull,

    /// <summary>A drop fault plan.</summary>
    Fault,

    /// <summary>A partition fault plan cut the port off (either direction).</summary>
    Partition,

    /// <summary>A delay or reorder fault plan held as many frames as it may.</summary>
    DelayLineFull,

    /// <summary>A rate fault plan's backlog was full.</summary>
    RateBacklogFull,

    /// <summary>The port was closed (the VM stopped).</summary>
    Closed,
}
