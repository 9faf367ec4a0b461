namespace ActorVmm.Actors.Faults;

/// <summary>
/// What an injected fault does to a device. On a NIC (<c>net0</c>, ...) every kind but crash applies to the frames its
/// port sends (egress, as netem on the VM's interface); partition cuts both directions.
/// </summary>
public enum FaultKind
{
    /// <summary>The device throws <see cref="InjectedDeviceFault"/>: its actor fails and its supervisor decides (restart, ...).</summary>
    Crash,

    /// <summary>The access (or virtio request) waits <see cref="FaultPlan.Delay"/> before it reaches the device; a NIC's frame is sent that much later (plus up to <see cref="FaultPlan.Jitter"/>).</summary>
    Delay,

    /// <summary>A read gets no reply: the vCPU waits out its read timeout and the guest reads all-ones. A NIC's frame is lost.</summary>
    Drop,

    /// <summary>Bits (<see cref="FaultPlan.Mask"/>) flipped in the data a read returns to the guest; a NIC's frame gets <see cref="FaultPlan.Bits"/> random bits flipped.</summary>
    Corrupt,

    /// <summary>virtio-blk: the backend I/O of a request fails; the guest sees VIRTIO_BLK_S_IOERR.</summary>
    IoError,

    /// <summary>NIC only: the frame is sent twice.</summary>
    Duplicate,

    /// <summary>NIC only: the frame is held back and sent after the next one.</summary>
    Reorder,

    /// <summary>NIC only: frames are shaped to <see cref="FaultPlan.Rate"/> bits per second (a token bucket; a full backlog drops).</summary>
    Rate,

    /// <summary>NIC only: once the trigger fires the port is cut off, both directions, until the plan is removed.</summary>
    Partition,
}
