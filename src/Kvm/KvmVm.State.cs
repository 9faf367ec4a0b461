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

    public void SetIrqchip(in KvmIrqchip chip) => SetState(KvmIoctls.SetIrqchip, chip);

    public KvmPitState2 GetPit2() => GetState<KvmPitState2>(KvmIoctls.GetPit2);

    public void SetPit2(in KvmPitState2 pit) => SetState(KvmIoctls.SetPit2, pit);

    public KvmClockData GetClock() => GetState<KvmClockData>(KvmIoctls.GetClock);

    /// <summary>KVM_SET_CLOCK with <paramref name="clock"/> as given (flags included: KVM_CLOCK_REALTIME advances it).</summary>
    public void SetClock(in KvmClockData clock) => SetState(KvmIoctls.SetClock, clock);

    /// <summary>A KVM_GET_* ioctl on the VM that fills one struct.</summary>
    private T GetState<T>(IoctlRequest request)
        where T : unmanaged
    {
        var state = default(T);
        KvmIoctl.Invoke(_fd, request, ref state);
        return state;
    }

    /// <summary>A KVM_SET_* ioctl on the VM that takes one struct (copied: the ioctl wants a writable reference).</summary>
    private void SetState<T>(IoctlRequest request, in T state)
        where T : unmanaged
    {
        var copy = state;
        KvmIoctl.Invoke(_fd, request, ref copy);
    }
}
