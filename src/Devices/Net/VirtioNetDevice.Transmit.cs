using ActorVmm.Devices.Virtio;
using ActorVmm.Kvm.Memory;

namespace ActorVmm.Devices.Net;

/// <summary>
/// The transmit side: each chain's readable part is a virtio_net_hdr_v1 and an Ethernet frame, copied out of guest
/// memory whole (so the guest cannot change it after the checks) and handed to the port. A chain that breaks the
/// rules (no header, a runt, longer than the MTU allows, an offload that was not negotiated, checksum offsets outside
/// the frame, device-writable buffers) is dropped and counted; every chain is completed with length 0.
/// </summary>
public sealed partial class VirtioNetDevice
{
    /// <summary>Room for one 802.1Q tag beyond the MTU and the Ethernet header.</summary>
    private const int VlanTagSize = 4;

    private long _txFrames;
    private long _txBytes;
    private long _txMalformed;

    /// <summary>Frames the guest transmitted and the port took.</summary>
    public long TxFrames => Interlocked.Read(ref _txFrames);

    /// <summary>Ethernet bytes the guest transmitted (virtio headers not counted).</summary>
    public long TxBytes => Interlocked.Read(ref _txBytes);

    /// <summary>Transmit chains dropped as malformed (see <see cref="CheckTransmitted"/>).</summary>
    public long TxMalformed => Interlocked.Read(ref _txMalformed);

    /// <summary>
    /// Why a transmitted frame (virtio header + Ethernet frame, copied) breaks the rules for a driver that accepted
    /// <paramref name="acked"/>, or null when it may go out.
    /// </summary>
    public static string? CheckTransmitted(ReadOnlySpan<byte> frame, ulong acked, ushort mtu)
    {
        if (!NetFrame.HasEthernetHeader(frame))
        {
            return $"transmitted frame of {frame.Length} bytes lacks the virtio header or the Ethernet header";
        }

        // Linux never segments below TCP_MIN_MSS (88); a smaller gso_size would only make a receiver that declined
        // TSO segment one frame into thousands.
        const int MinGsoSize = 88;
        var gso = VirtioNetHeader.GsoType(frame);
        var flags = VirtioNetHeader.Flags(frame);
        var ethernet = frame.Length - NetFrame.HeaderSize;
        var limit = NetFrame.EthernetHeaderSize + VlanTagSize + mtu;
        switch (gso)
        {
            case VirtioNetHeader.GsoNone:
                break;
            case VirtioNetHeader.GsoTcpV4 when (acked & VirtioNetFeatures.HostTso4) != 0:
            case VirtioNetHeader.GsoTcpV6 when (acked & VirtioNetFeatures.HostTso6) != 0:
                if (VirtioNetHeader.GsoSize(frame) < MinGsoSize || (flags & VirtioNetHeader.FlagNeedsCsum) == 0)
                {
                    return $"transmitted GSO frame without NEEDS_CSUM or with gso_size under {MinGsoSize}";
                }

                limit = NetFrame.MaxSize - NetFrame.HeaderSize;
                break;
            default:
                return $"transmitted frame with gso_type {gso:x2}, not negotiated";
        }

        if (frame.Length > NetFrame.MaxSize || ethernet > limit)
        {
            return $"transmitted frame of {ethernet} bytes is longer than {limit}";
        }

        if ((flags & VirtioNetHeader.FlagNeedsCsum) != 0)
        {
            if ((acked & VirtioNetFeatures.Csum) == 0)
            {
                return "transmitted frame with NEEDS_CSUM, VIRTIO_NET_F_CSUM not negotiated";
            }

            if (VirtioNetHeader.CsumStart(frame) + VirtioNetHeader.CsumOffset(frame) + 2 > ethernet)
            {
                return "transmitted frame's checksum lies outside it";
            }
        }

        return null;
    }

    private bool Transmit(Virtqueue queue, GuestMemory memory)
    {
        var acked = _context?.AckedFeatures ?? 0;
        var added = false;
        for (var budget = queue.Size; budget > 0; budget--)
        {
            var chain = queue.TryPop(memory);
            if (chain is null)
            {
                break;
            }

            var error = TransmitChain(chain, memory, acked);
            if (error is not null)
            {
                queue.ReportGuestError(error);
                Interlocked.Increment(ref _txMalformed);
            }

            queue.AddUsed(memory, chain.HeadIndex, 0);
            added = true;
        }

        return added;
    }

    private string? TransmitChain(DescriptorChain chain, GuestMemory memory, ulong acked)
    {
        if (chain.WritableLength != 0)
        {
            return "transmit chain has device-writable buffers";
        }

        // Sized before copying: a chain may carry up to the queue's chain limit, far more than a frame.
        Span<byte> header = stackalloc byte[NetFrame.HeaderSize];
        var length = chain.ReadableLength;
        var gso = chain.Read(memory, 0, header) == header.Length ? VirtioNetHeader.GsoType(header) : VirtioNetHeader.GsoNone;
        var limit = gso == VirtioNetHeader.GsoNone
            ? (ulong)(NetFrame.HeaderSize + NetFrame.EthernetHeaderSize + VlanTagSize + Mtu)
            : NetFrame.MaxSize;
        if (length > limit || length < NetFrame.HeaderSize + NetFrame.EthernetHeaderSize)
        {
            return $"transmit chain of {length} bytes is not a frame of 26..{limit} bytes";
        }

        var frame = new byte[(int)length];
        if (chain.Read(memory, 0, frame) != frame.Length)
        {
            return "transmit chain could not be read";
        }

        var error = CheckTransmitted(frame, acked, Mtu);
        if (error is not null)
        {
            return error;
        }

        // Only NEEDS_CSUM means anything toward the network; num_buffers is receive-only.
        frame[0] &= VirtioNetHeader.FlagNeedsCsum;
        VirtioNetHeader.SetNumBuffers(frame, 0);
        _port.Send(frame);
        Interlocked.Increment(ref _txFrames);
        Interlocked.Add(ref _txBytes, frame.Length - NetFrame.HeaderSize);
        return null;
    }
}
