using ActorVmm.Kvm.Interop;

namespace ActorVmm.Kvm;

/// <summary>
/// The VM-wide state ioctls a snapshot needs: in-kernel PICs, IOAPIC, PIT and kvmclock (saving and restoring all of
/// it is <see cref="X86.VmSnapshot"/>).
/// </summary>
public sealed partial class KvmVm
{
    private int _xsaveSize;

    /// <summary>KVM_CHECK_EXTENSION on this VM: 0 when absent, otherwise 1 or a capability-specific value.</summary>
    public int CheckExtension(KvmCap cap)
    {
        var result = KvmIoctl.TryInvoke(_fd, KvmIoctls.CheckExtension, (nint)cap);
        return Math.Max(result, 0);
    }

    /// <summary>Bytes of a vCPU's XSAVE area: KVM_CAP_XSAVE2's size when the kernel has it, otherwise 4 KiB.</summary>
    public int XsaveSize
    {
        get
        {
            if (_xsaveSize == 0)
            {
                _xsaveSize = Math.Max(CheckExtension(KvmCap.Xsave2), KvmXsave.Size);
            }

            return _xsaveSize;
        }
    }

    public KvmIrqchip GetIrqchip(uint chipId)
    {
        var chip = new KvmIrqchip { ChipId = chipId };
        KvmIoctl.Invoke(_fd, KvmIoctls.GetIrqchip, ref chip);
        return chip;
    }

    public void SetIrqchip(in KvmIrqchip chip) => KvmIoctl.Set(_fd, KvmIoctls.SetIrqchip, chip);

    public KvmPitState2 GetPit2() => KvmIoctl.Get<KvmPitState2>(_fd, KvmIoctls.GetPit2);

    public void SetPit2(in KvmPitState2 pit) => KvmIoctl.Set(_fd, KvmIoctls.SetPit2, pit);

    public KvmClockData GetClock() => KvmIoctl.Get<KvmClockData>(_fd, KvmIoctls.GetClock);

    /// <summary>KVM_SET_CLOCK with <paramref name="clock"/> as given (flags included: KVM_CLOCK_REALTIME advances it).</summary>
    public void SetClock(in KvmClockData clock) => KvmIoctl.Set(_fd, KvmIoctls.SetClock, clock);
}
