using System.Runtime.InteropServices;

namespace ActorVmm.Kvm.Interop;

/// <summary>struct kvm_cpuid_entry2: one CPUID leaf/subleaf. 40 bytes. The kvm_cpuid2 header is 8 bytes (nent, padding).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmCpuidEntry2
{
    /// <summary>KVM_CPUID_FLAG_SIGNIFCANT_INDEX: the leaf has subleaves selected by <see cref="Index"/>.</summary>
    public const uint FlagSignificantIndex = 1;

    public uint Function;
    public uint Index;
    public uint Flags;
    public uint Eax;
    public uint Ebx;
    public uint Ecx;
    public uint Edx;
    public uint Padding0;
    public uint Padding1;
    public uint Padding2;

    public override readonly string ToString() =>
        $"0x{Function:x8}.{Index}: eax=0x{Eax:x8} ebx=0x{Ebx:x8} ecx=0x{Ecx:x8} edx=0x{Edx:x8} flags={Flags}";
}
