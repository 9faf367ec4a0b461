namespace ActorVmm.Devices.Virtio;

/// <summary>A disk image cannot be used (missing, not writable, empty, not whole sectors); the message is one line.</summary>
public sealed class VirtioBlockException : Exception
{
    public VirtioBlockException(string message)
        : base(message)
    {
    }

    public VirtioBlockException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
