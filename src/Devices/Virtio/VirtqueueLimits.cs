namespace ActorVmm.Devices.Virtio;

/// <summary>
/// Bounds applied to every guest-supplied descriptor chain; a chain outside them is failed as a guest error.
/// </summary>
/// <param name="MaxDescriptorLength">Largest single buffer (default 1 MiB).</param>
/// <param name="MaxChainLength">Largest total of all buffers in one chain (default 32 MiB).</param>
/// <param name="MaxIndirectDescriptors">Largest indirect table, in descriptors (default 1024).</param>
public sealed record VirtqueueLimits(uint MaxDescriptorLength, ulong MaxChainLength, int MaxIndirectDescriptors)
{
    public static readonly VirtqueueLimits Default = new(1u << 20, 32UL << 20, 1024);
}
