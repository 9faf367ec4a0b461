namespace ActorVmm.Kvm.Linux;

/// <summary>
/// A TAP device could not be opened or configured. The message is one line naming the TAP, what went wrong and what
/// to run about it; <see cref="Errno"/> is the error number behind it (0 if none).
/// </summary>
public sealed class TapException : Exception
{
    public TapException(string tap, string message, int errno = 0)
        : base(message)
    {
        Tap = tap;
        Errno = errno;
    }

    /// <summary>The TAP's interface name, as given.</summary>
    public string Tap { get; }

    public int Errno { get; }
}
