using System.Runtime.InteropServices;

namespace ActorVmm.Kvm.Interop;

/// <summary>struct kvm_msr_entry. 16 bytes. The kvm_msrs header is 8 bytes (nmsrs, pad).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmMsrEntry
{
    public KvmMsrEntry(uint index, ulong data)
    {
        Index = index;
        Reserved = 0;
        Data = data;
    }

    public uint Index;
    public uint Reserved;
    public ulong Data;

    public override readonly string ToString() => $"MSR 0x{Index:x} = 0x{Data:x}";
}
