namespace ActorVmm.Actors.Net;

/// <summary>
/// What a NIC's port is connected to: a port of an in-process switch, or a TAP device on the host. Frames are laid
/// out as <see cref="ActorVmm.Devices.Net.NetFrame"/> says (virtio_net_hdr_v1, then Ethernet). A link lives as long as
/// the VM; disposing it detaches it (a switch forgets the port, a TAP's reader ends and its descriptor closes).
/// </summary>
public interface INetLink : IDisposable
{
    /// <summary>What the link is, for logs and stats (<c>switch lan0</c>, <c>tap tap0</c>).</summary>
    string Description { get; }

    /// <summary>
    /// Starts delivering frames from the network: <paramref name="deliver"/> is called (from the link's own thread or
    /// actor, one at a time, never blocking) with each frame for this NIC. Once only.
    /// </summary>
    void Start(Action<byte[]> deliver);

    /// <summary>A frame toward the network. Never blocks: when the path is full it drops the frame and counts it.</summary>
    void Send(byte[] frame);

    /// <summary>The guest accepted these virtio-net features; a TAP sets TUNSETOFFLOAD to match (a switch ignores it).</summary>
    void SetGuestOffloads(ulong ackedFeatures);

    /// <summary>Frames this link dropped because its path toward the network was full or failed.</summary>
    long Dropped { get; }
}
