using ActorVmm.Kvm.Interop;

namespace ActorVmm.Kvm.X86;

/// <summary>Model-specific register numbers and the values a vCPU boots with (as Firecracker sets them).</summary>
public static class X86Msrs
{
    public const uint Ia32Tsc = 0x10;
    public const uint Ia32SysenterCs = 0x174;
    public const uint Ia32SysenterEsp = 0x175;
    public const uint Ia32SysenterEip = 0x176;
    public const uint Ia32MiscEnable = 0x1A0;
    public const uint MtrrDefType = 0x2FF;
    public const uint Efer = 0xC000_0080;
    public const uint Star = 0xC000_0081;
    public const uint Lstar = 0xC000_0082;
    public const uint Cstar = 0xC000_0083;
    public const uint SyscallMask = 0xC000_0084;
    public const uint KernelGsBase = 0xC000_0102;

    /// <summary>IA32_MISC_ENABLE[0]: fast-string operations enabled.</summary>
    public const ulong MiscEnableFastString = 1;

    /// <summary>IA32_MTRR_DEF_TYPE[11] (E): MTRRs enabled.</summary>
    public const ulong MtrrEnable = 1 << 11;

    /// <summary>Memory type write-back.</summary>
    public const ulong MtrrTypeWriteBack = 6;

    /// <summary>The MSRs set on every vCPU before it first runs.</summary>
    public static KvmMsrEntry[] BootMsrs() =>
    [
        new(Ia32SysenterCs, 0),
        new(Ia32SysenterEsp, 0),
        new(Ia32SysenterEip, 0),
        new(Star, 0),
        new(Cstar, 0),
        new(KernelGsBase, 0),
        new(SyscallMask, 0),
        new(Lstar, 0),
        new(Ia32Tsc, 0),
        new(Ia32MiscEnable, MiscEnableFastString),
        new(MtrrDefType, MtrrEnable | MtrrTypeWriteBack),
    ];
}
