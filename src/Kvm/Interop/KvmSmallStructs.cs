using System.Runtime.InteropServices;

namespace ActorVmm.Kvm.Interop;

/// <summary>struct kvm_irq_level: KVM_IRQ_LINE's argument (irq number and level). 8 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmIrqLevel
{
    /// <summary>The irq (in) — a union with the status (out) of KVM_IRQ_LINE_STATUS.</summary>
    public uint Irq;
    public uint Level;
}

/// <summary>struct kvm_mp_state. 4 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmMpState
{
    public uint MpState;
}

/// <summary>struct kvm_signal_mask header (len, then len bytes of the kernel sigset). 4 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KvmSignalMaskHeader
{
    public uint Len;
}

/// <summary>struct kvm_msi: KVM_SIGNAL_MSI's argument. 32 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmMsi
{
    public uint AddressLo;
    public uint AddressHi;
    public uint Data;
    public uint Flags;
    public uint DevId;
    public uint Pad0;
    public uint Pad1;
    public uint Pad2;
}
