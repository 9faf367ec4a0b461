using Akka.Actor;

namespace ActorVmm.Actors.Vm;

/// <summary>A started VM: its actor and a task completing with its stop reason (after its resources are disposed).</summary>
public sealed record VmHandle(IActorRef Actor, Task<VmStopReason> Stopped)
{
    /// <summary>Asks the VM to stop (host request).</summary>
    public void RequestStop(string why = "stopped by the host") =>
        Actor.Tell(new VmProtocol.Stop(new VmStopReason(VmStopReasonKind.HostRequest, why)));
}
