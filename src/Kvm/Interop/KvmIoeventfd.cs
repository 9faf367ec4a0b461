using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ActorVmm.Kvm.Interop;

/// <summary>struct kvm_ioeventfd. 64 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmIoeventfd
{
    public const uint FlagDatamatch = 1;
    public const uint FlagPio = 2;
    public const uint FlagDeassign = 4;

    public ulong Datamatch;
    public ulong Addr;
    public uint Len;
    public int Fd;
    public uint Flags;
    public KvmPad36 Pad;
}

/// <summary>36 reserved bytes.</summary>
[InlineArray(36)]
public struct KvmPad36
{
    private byte _element0;
}
