using Akka.Actor;

namespace ActorVmm.Actors.Vm;

/// <summary>The <see cref="IVmControl"/> device factories get: a Tell to the VM actor.</summary>
internal sealed class VmControl(string vmName, IActorRef vm) : IVmControl
{
    public string VmName { get; } = vmName;

    public void RequestStop(VmStopReason reason) => vm.Tell(new VmProtocol.Stop(reason));
}
