using System.Diagnostics.CodeAnalysis;

namespace ActorVmm.Devices.Net;

/// <summary>
/// The network side of one virtio-net NIC, as its device model sees it. Lives for the VM's life (outside the
/// restartable device), so frames waiting for the guest survive a supervised restart. Frames are whole arrays laid out
/// as <see cref="NetFrame"/> says: a virtio_net_hdr_v1 (<see cref="NetFrame.HeaderSize"/> bytes), then the Ethernet frame.
/// </summary>
public interface INetPort
{
    /// <summary>
    /// A frame the guest transmitted, toward the network (called on the transmit queue's worker). Never blocks: a
    /// path that is full drops the frame and counts it. The port owns <paramref name="frame"/> after the call.
    /// </summary>
    void Send(byte[] frame);

    /// <summary>Takes the next frame waiting for the guest (called on the receive queue's worker).</summary>
    bool TryReceive([NotNullWhen(true)] out byte[]? frame);

    /// <summary>Frames waiting for the guest (bounded by the port: more are dropped and counted).</summary>
    int PendingFrames { get; }

    /// <summary>Set by the device model: called, from any thread and without blocking, when a frame arrives for the guest.</summary>
    Action? FrameArrived { get; set; }

    /// <summary>
    /// The driver accepted these virtio-net features (<c>VIRTIO_NET_F_GUEST_*</c> among them): a backend that can
    /// hand the guest checksum-offloaded or GSO frames (a TAP's TUNSETOFFLOAD) does so from now on. Zero after a reset.
    /// </summary>
    void SetGuestOffloads(ulong ackedFeatures);
}
