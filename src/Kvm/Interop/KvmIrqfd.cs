using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ActorVmm.Kvm.Interop;

/// <summary>struct kvm_irqfd. 32 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmIrqfd
{
    public const uint FlagDeassign = 1;
    public const uint FlagResample = 2;

    public uint Fd;
    public uint Gsi;
    public uint Flags;
    public uint ResampleFd;
    public KvmPad16 Pad;
}

/// <summary>16 reserved bytes.</summary>
[InlineArray(16)]
public struct KvmPad16
{
    private byte _element0;
}
