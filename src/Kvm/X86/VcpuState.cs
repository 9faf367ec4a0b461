using ActorVmm.Kvm.Interop;

namespace ActorVmm.Kvm.X86;

/// <summary>
/// Everything KVM holds for one x86 vCPU, as a snapshot saves it (<see cref="Vcpu.SaveState"/>). <see cref="Xsave"/> is
/// the raw XSAVE area (4096 bytes, or the KVM_CAP_XSAVE2 size); <see cref="Msrs"/> holds the readable MSRs of KVM's
/// list; <see cref="TscKhz"/> is 0 when KVM did not know the TSC frequency.
/// </summary>
public sealed record VcpuState(
    int Id,
    KvmRegs Regs,
    KvmSregs Sregs,
    byte[] Xsave,
    KvmXcrs Xcrs,
    KvmMsrEntry[] Msrs,
    KvmLapicState Lapic,
    KvmVcpuEvents Events,
    uint MpState,
    KvmDebugRegs DebugRegs,
    uint TscKhz);
