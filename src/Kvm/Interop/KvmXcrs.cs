using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ActorVmm.Kvm.Interop;

/// <summary>struct kvm_xcrs: the extended control registers (XCR0, ...) of KVM_GET_XCRS / KVM_SET_XCRS. 392 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmXcrs
{
    /// <summary>KVM_MAX_XCRS: the entries the struct has room for.</summary>
    public const int MaxXcrs = 16;

    public uint NrXcrs;
    public uint Flags;
    public KvmXcrArray Xcrs;
    public KvmXcrsPadding Padding;
}

/// <summary>struct kvm_xcr. 16 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmXcr
{
    public uint Xcr;
    public uint Reserved;
    public ulong Value;
}

/// <summary>kvm_xcrs.xcrs[KVM_MAX_XCRS].</summary>
[InlineArray(KvmXcrs.MaxXcrs)]
public struct KvmXcrArray
{
    private KvmXcr _element0;
}

/// <summary>kvm_xcrs.padding[16].</summary>
[InlineArray(16)]
public struct KvmXcrsPadding
{
    private ulong _element0;
}
