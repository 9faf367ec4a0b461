using ActorVmm.Actors.Virtio;

namespace ActorVmm.Host.Composition;

/// <summary>A VM could not be built; the message is one line for the user.</summary>
public sealed class VmBuildException(string message, Exception? inner = null) : Exception(message, inner);
