using ActorVmm.Kvm.Interop;

namespace ActorVmm.Kvm.X86;

/// <summary>
/// The VM-wide state KVM holds for a VM with the in-kernel irqchip and PIT: both PICs, the IOAPIC, the PIT and the
/// kvmclock (<see cref="KvmVm.SaveState"/>).
/// </summary>
public sealed record VmKvmState(
    KvmIrqchip PicMaster,
    KvmIrqchip PicSlave,
    KvmIrqchip Ioapic,
    KvmPitState2 Pit,
    KvmClockData Clock);
