namespace ActorVmm.Actors.Net;

/// <summary>
/// The network faults of one NIC, as its <see cref="NetPort"/> applies them (set by the fault injector's
/// <c>AttachNet</c>; faults depend on the network, not the other way round). Frames it lets through, now or later, it
/// hands back to <see cref="NetPort.Transmit"/>; frames it drops it counts on the port.
/// </summary>
public interface INetPortFaults
{
    /// <summary>Whether any plan is armed or any frame held (lock-free): when false the port skips the faults.</summary>
    bool Active { get; }

    /// <summary>A frame the guest sent (the port owns it): forwarded, maybe later, changed or twice, or dropped. Never blocks.</summary>
    void Egress(byte[] frame);

    /// <summary>Whether a partition drops this frame arriving for the guest.</summary>
    bool CutsIngress();

    /// <summary>The port closes: held frames are dropped and timers stop.</summary>
    void Close();
}
