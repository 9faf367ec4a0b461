using ActorVmm.Actors.Virtio;

namespace ActorVmm.Host.Machine;

/// <summary>A VM could not be built; the message is one line for the user.</summary>
public sealed class MachineException(string message, Exception? inner = null) : Exception(message, inner);
