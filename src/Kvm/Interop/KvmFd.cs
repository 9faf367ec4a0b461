using System.Runtime.InteropServices;

namespace ActorVmm.Kvm.Interop;

/// <summary>A file descriptor of /dev/kvm, a VM or a vCPU; closed with close(2) when released.</summary>
public sealed class KvmFd : SafeHandle
{
    public KvmFd()
        : base(-1, ownsHandle: true)
    {
    }

    internal KvmFd(int fd)
        : base(-1, ownsHandle: true)
    {
        SetHandle(fd);
    }

    public override bool IsInvalid => handle < 0;

    protected override bool ReleaseHandle() => Libc.Close((int)handle) == 0;
}
