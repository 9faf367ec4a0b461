using System.Text;

namespace ActorVmm.Kvm.Boot;

/// <summary>The kernel command line as the guest sees it: UTF-8 bytes with a terminating NUL.</summary>
public static class KernelCommandLine
{
    /// <summary>
    /// Encodes <paramref name="cmdline"/> NUL-terminated, refusing one that (with its NUL) exceeds
    /// <paramref name="maxSizeWithNul"/> bytes or contains a NUL of its own.
    /// </summary>
    /// <exception cref="BootException"><see cref="BootError.CommandLineTooLong"/> or <see cref="BootError.CommandLineInvalid"/>.</exception>
    public static byte[] Encode(string cmdline, ulong maxSizeWithNul)
    {
        ArgumentNullException.ThrowIfNull(cmdline);
        if (cmdline.Contains('\0', StringComparison.Ordinal))
        {
            throw new BootException(BootError.CommandLineInvalid, "kernel command line contains a NUL character");
        }

        var length = Encoding.UTF8.GetByteCount(cmdline);
        if ((ulong)length + 1 > maxSizeWithNul)
        {
            throw new BootException(BootError.CommandLineTooLong,
                $"kernel command line is {length} bytes; at most {(maxSizeWithNul == 0 ? 0 : maxSizeWithNul - 1)} fit");
        }

        var bytes = new byte[length + 1];
        Encoding.UTF8.GetBytes(cmdline, bytes);
        return bytes;
    }
}
