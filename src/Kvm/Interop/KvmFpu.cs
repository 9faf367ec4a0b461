using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ActorVmm.Kvm.Interop;

/// <summary>struct kvm_fpu: x87 and SSE state in FXSAVE form. 416 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmFpu
{
    /// <summary>fpr[8][16]: the eight x87 registers, 16 bytes each.</summary>
    public KvmFpuRegisters Fpr;
    public ushort Fcw;
    public ushort Fsw;

    /// <summary>Abridged tag word (one bit per register).</summary>
    public byte Ftwx;
    public byte Pad1;
    public ushort LastOpcode;
    public ulong LastIp;
    public ulong LastDp;

    /// <summary>xmm[16][16]: XMM0..15.</summary>
    public KvmXmmRegisters Xmm;

    /// <summary>Ignored by KVM_SET_FPU and not filled by KVM_GET_FPU (kernel quirk): use <see cref="Vcpu.SetXsave"/>.</summary>
    public uint Mxcsr;
    public uint Pad2;
}

/// <summary>kvm_fpu.fpr as bytes (8 registers x 16 bytes).</summary>
[InlineArray(128)]
public struct KvmFpuRegisters
{
    private byte _element0;
}

/// <summary>kvm_fpu.xmm as bytes (16 registers x 16 bytes).</summary>
[InlineArray(256)]
public struct KvmXmmRegisters
{
    private byte _element0;
}
