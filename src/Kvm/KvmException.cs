using System.Runtime.InteropServices;

namespace ActorVmm.Kvm;

/// <summary>A KVM ioctl failed. <see cref="Ioctl"/> names it; <see cref="Errno"/> is the error number (0 if not an errno).</summary>
public class KvmException : Exception
{
    public KvmException(string ioctl, int errno)
        : base($"{ioctl} failed: {ErrnoName(errno)} ({Marshal.GetPInvokeErrorMessage(errno)})")
    {
        Ioctl = ioctl;
        Errno = errno;
    }

    public KvmException(string ioctl, string message)
        : base($"{ioctl}: {message}")
    {
        Ioctl = ioctl;
    }

    public string Ioctl { get; }

    public int Errno { get; }

    internal static string ErrnoName(int errno) => errno switch
    {
        1 => "EPERM",
        2 => "ENOENT",
        3 => "ESRCH",
        4 => "EINTR",
        5 => "EIO",
        7 => "E2BIG",
        9 => "EBADF",
        11 => "EAGAIN",
        12 => "ENOMEM",
        13 => "EACCES",
        14 => "EFAULT",
        16 => "EBUSY",
        17 => "EEXIST",
        19 => "ENODEV",
        22 => "EINVAL",
        24 => "EMFILE",
        25 => "ENOTTY",
        28 => "ENOSPC",
        77 => "EBADFD",
        95 => "EOPNOTSUPP",
        _ => $"errno {errno}",
    };
}
