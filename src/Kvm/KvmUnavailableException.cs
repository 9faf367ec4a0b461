namespace ActorVmm.Kvm;

/// <summary>KVM cannot be used on this machine: /dev/kvm is missing, not accessible, or speaks another API version.</summary>
public sealed class KvmUnavailableException : Exception
{
    public KvmUnavailableException(string message, int errno = 0)
        : base(message)
    {
        Errno = errno;
    }

    public int Errno { get; }
}
