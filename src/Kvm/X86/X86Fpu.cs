using ActorVmm.Kvm.Interop;

namespace ActorVmm.Kvm.X86;

/// <summary>The x87/SSE state a vCPU boots with.</summary>
public static class X86Fpu
{
    /// <summary>FNINIT's control word: all exceptions masked, 64-bit precision, round to nearest.</summary>
    public const ushort DefaultFcw = 0x37F;

    /// <summary>MXCSR at reset: all SIMD exceptions masked.</summary>
    public const uint DefaultMxcsr = 0x1F80;

    public static KvmFpu BootFpu() => new() { Fcw = DefaultFcw, Mxcsr = DefaultMxcsr };

    /// <summary>
    /// Sets the boot x87/SSE state. KVM_SET_FPU ignores kvm_fpu.mxcsr (the kernel never copies it), so MXCSR is
    /// written through KVM_GET_XSAVE / KVM_SET_XSAVE with the SSE component marked present.
    /// </summary>
    public static void Apply(Vcpu vcpu)
    {
        ArgumentNullException.ThrowIfNull(vcpu);
        vcpu.SetFpu(BootFpu());
        var xsave = vcpu.GetXsave();
        xsave.Mxcsr = DefaultMxcsr;
        xsave.XstateBv |= KvmXsave.XfeatureSse;
        vcpu.SetXsave(xsave);
    }
}
