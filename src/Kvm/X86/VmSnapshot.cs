using ActorVmm.Kvm.Interop;

namespace ActorVmm.Kvm.X86;

/// <summary>Saving and restoring the VM-wide KVM state of an x86 VM with the in-kernel irqchip and PIT.</summary>
public static class VmSnapshot
{
    /// <summary>Reads both PICs, the IOAPIC, the PIT and the kvmclock (needs KVM_CREATE_IRQCHIP and KVM_CREATE_PIT2).</summary>
    public static VmKvmState SaveState(this KvmVm vm)
    {
        ArgumentNullException.ThrowIfNull(vm);
        return new VmKvmState(
            vm.GetIrqchip(KvmIrqchip.PicMaster),
            vm.GetIrqchip(KvmIrqchip.PicSlave),
            vm.GetIrqchip(KvmIrqchip.Ioapic),
            vm.GetPit2(),
            vm.GetClock());
    }

    /// <summary>
    /// Puts <paramref name="state"/> into <paramref name="vm"/> (irqchip and PIT created, before its vCPUs run). The
    /// kvmclock gets the saved value with every flag cleared: KVM_SET_CLOCK takes only KVM_CLOCK_REALTIME, which would
    /// move the clock on by the wall time since the snapshot.
    /// </summary>
    public static void RestoreState(this KvmVm vm, VmKvmState state)
    {
        ArgumentNullException.ThrowIfNull(vm);
        ArgumentNullException.ThrowIfNull(state);
        CheckChip(state.PicMaster, KvmIrqchip.PicMaster, nameof(state.PicMaster));
        CheckChip(state.PicSlave, KvmIrqchip.PicSlave, nameof(state.PicSlave));
        CheckChip(state.Ioapic, KvmIrqchip.Ioapic, nameof(state.Ioapic));
        vm.SetIrqchip(state.PicMaster);
        vm.SetIrqchip(state.PicSlave);
        vm.SetIrqchip(state.Ioapic);
        vm.SetPit2(state.Pit);
        vm.SetClock(new KvmClockData { Clock = state.Clock.Clock });
    }

    private static void CheckChip(in KvmIrqchip chip, uint expected, string field)
    {
        if (chip.ChipId != expected)
        {
            throw new ArgumentException($"{field} holds irqchip {chip.ChipId}, expected chip {expected}", nameof(chip));
        }
    }
}
