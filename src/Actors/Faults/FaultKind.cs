namespace ActorVmm.Actors.Faults;

/// <summary>What an injected fault does to a device.</summary>
public enum FaultKind
{
    /// <summary>The device throws <see cref="InjectedDeviceFault"/>: its actor fails and its supervisor decides (restart, ...).</summary>
    Crash,

    /// <summary>The access (or virtio request) waits <see cref="FaultPlan.Delay"/> before it reaches the device.</summary>
    Delay,

    /// <summary>A read gets no reply: the vCPU waits out its read timeout and the guest reads all-ones.</summary>
    Drop,

    /// <summary>Bits (<see cref="FaultPlan.Mask"/>) flipped in the data a read returns to the guest.</summary>
    Corrupt,

    /// <summary>virtio-blk: the backend I/O of a request fails; the guest sees VIRTIO_BLK_S_IOERR.</summary>
    IoError,
}
