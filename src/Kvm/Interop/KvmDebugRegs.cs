using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ActorVmm.Kvm.Interop;

/// <summary>struct kvm_debugregs: DR0-DR3, DR6 and DR7 (KVM_GET_DEBUGREGS / KVM_SET_DEBUGREGS). 128 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmDebugRegs
{
    public KvmDebugAddressRegs Db;
    public ulong Dr6;
    public ulong Dr7;
    public ulong Flags;
    public KvmDebugRegsReserved Reserved;
}

/// <summary>kvm_debugregs.db[4]: DR0-DR3.</summary>
[InlineArray(4)]
public struct KvmDebugAddressRegs
{
    private ulong _element0;
}

/// <summary>kvm_debugregs.reserved[9].</summary>
[InlineArray(9)]
public struct KvmDebugRegsReserved
{
    private ulong _element0;
}
