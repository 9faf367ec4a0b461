using ActorVmm.Devices.Net;

namespace ActorVmm.Actors.Net;

/// <summary>The protocol of <see cref="SwitchActor"/>: each port's frames reach it as <see cref="FrameIn"/> messages.</summary>
public static class SwitchProtocol
{
    /// <summary>A port joins the switch (sent by the registry when a NIC or an uplink attaches).</summary>
    /// <summary>A port joins; <paramref name="Owner"/>: the only source MAC its frames may carry (a NIC's), null for an uplink.</summary>
    public sealed record AddPort(int PortId, SwitchPort Port, MacAddress? Owner = null);

    /// <summary>A port leaves: the switch forgets it and the MACs learned on it.</summary>
    public sealed record RemovePort(int PortId);

    /// <summary>A frame from port <paramref name="PortId"/> (virtio header, then Ethernet); the switch owns it.</summary>
    public sealed record FrameIn(int PortId, byte[] Frame);

    /// <summary>Forget MACs not seen for the ageing time (the switch's periodic timer).</summary>
    public sealed record Sweep
    {
        public static readonly Sweep Instance = new();
    }
}
