namespace ActorVmm.Actors.Vm;

/// <summary>A VM refused a command in its current state (<see cref="VmProtocol.Failed"/>), or it has stopped.</summary>
public sealed class VmStateException(string message, VmState state) : InvalidOperationException(message)
{
    public VmState State { get; } = state;
}
