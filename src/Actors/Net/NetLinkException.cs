namespace ActorVmm.Actors.Net;

/// <summary>A NIC cannot be attached as asked (bad switch name, MAC already on the switch, ...): one line naming why.</summary>
public sealed class NetLinkException(string message) : Exception(message);
