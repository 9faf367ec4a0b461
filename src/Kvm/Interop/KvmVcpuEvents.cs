using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ActorVmm.Kvm.Interop;

/// <summary>
/// struct kvm_vcpu_events: pending/injected exception, interrupt, NMI and SMI, the interrupt shadow and the SIPI
/// vector (KVM_GET_VCPU_EVENTS / KVM_SET_VCPU_EVENTS). The kernel's nested structs are flattened here. 64 bytes.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmVcpuEvents
{
    /// <summary>KVM_VCPUEVENT_VALID_NMI_PENDING: on set, <see cref="NmiPending"/> is valid.</summary>
    public const uint ValidNmiPending = 0x1;

    /// <summary>KVM_VCPUEVENT_VALID_SIPI_VECTOR.</summary>
    public const uint ValidSipiVector = 0x2;

    /// <summary>KVM_VCPUEVENT_VALID_SHADOW: the interrupt shadow (STI/MOV SS) is valid.</summary>
    public const uint ValidShadow = 0x4;

    /// <summary>KVM_VCPUEVENT_VALID_SMM.</summary>
    public const uint ValidSmm = 0x8;

    /// <summary>KVM_VCPUEVENT_VALID_PAYLOAD (with KVM_CAP_EXCEPTION_PAYLOAD).</summary>
    public const uint ValidPayload = 0x10;

    /// <summary>KVM_VCPUEVENT_VALID_TRIPLE_FAULT (with KVM_CAP_X86_TRIPLE_FAULT_EVENT).</summary>
    public const uint ValidTripleFault = 0x20;

    public byte ExceptionInjected;
    public byte ExceptionNr;
    public byte ExceptionHasErrorCode;
    public byte ExceptionPending;
    public uint ExceptionErrorCode;
    public byte InterruptInjected;
    public byte InterruptNr;
    public byte InterruptSoft;
    public byte InterruptShadow;
    public byte NmiInjected;
    public byte NmiPending;
    public byte NmiMasked;
    public byte NmiPad;
    public uint SipiVector;
    public uint Flags;
    public byte SmiSmm;
    public byte SmiPending;
    public byte SmiInsideNmi;
    public byte SmiLatchedInit;
    public byte TripleFaultPending;
    public KvmVcpuEventsReserved Reserved;
    public byte ExceptionHasPayload;
    public ulong ExceptionPayload;
}

/// <summary>kvm_vcpu_events.reserved[26].</summary>
[InlineArray(26)]
public struct KvmVcpuEventsReserved
{
    private byte _element0;
}
