using ActorVmm.Kvm.Interop;

namespace ActorVmm.Kvm;

/// <summary>
/// The vCPU state ioctls a snapshot needs beyond the boot-time ones (saving and restoring all of it in order is
/// <see cref="X86.VcpuSnapshot"/>).
/// </summary>
public sealed partial class Vcpu
{
    /// <summary>
    /// Bytes of this vCPU's XSAVE area as KVM hands it out: KVM_CHECK_EXTENSION(KVM_CAP_XSAVE2) when that exceeds
    /// 4 KiB (KVM_GET_XSAVE2), otherwise the 4 KiB of KVM_GET_XSAVE.
    /// </summary>
    public int XsaveSize { get; }

    /// <summary>The raw XSAVE area (<see cref="XsaveSize"/> bytes): KVM_GET_XSAVE2 when larger than 4 KiB, else KVM_GET_XSAVE.</summary>
    public byte[] GetXsaveBytes()
    {
        var buffer = new byte[XsaveSize];
        KvmIoctl.Invoke(_fd, XsaveSize > KvmXsave.Size ? KvmIoctls.GetXsave2 : KvmIoctls.GetXsave, buffer);
        return buffer;
    }

    /// <summary>
    /// KVM_SET_XSAVE from raw bytes. The kernel reads <see cref="XsaveSize"/> bytes, so a shorter area (saved where
    /// fewer features existed) is zero-padded; a longer one is refused unless its extra bytes are zero.
    /// </summary>
    public void SetXsaveBytes(ReadOnlySpan<byte> xsave)
    {
        if (xsave.Length < 576)
        {
            throw new KvmException(KvmIoctls.SetXsave.Name, $"an XSAVE area of {xsave.Length} bytes is smaller than its 576-byte legacy region and header");
        }

        if (xsave.Length > XsaveSize && xsave[XsaveSize..].IndexOfAnyExcept((byte)0) >= 0)
        {
            throw new KvmException(KvmIoctls.SetXsave.Name,
                $"the XSAVE area holds {xsave.Length} bytes of state, this host's KVM takes {XsaveSize}");
        }

        var buffer = new byte[XsaveSize];
        xsave[..Math.Min(xsave.Length, XsaveSize)].CopyTo(buffer);
        KvmIoctl.Invoke(_fd, KvmIoctls.SetXsave, buffer);
    }

    public KvmXcrs GetXcrs() => GetState<KvmXcrs>(KvmIoctls.GetXcrs);

    public void SetXcrs(in KvmXcrs xcrs) => SetState(KvmIoctls.SetXcrs, xcrs);

    public KvmVcpuEvents GetVcpuEvents() => GetState<KvmVcpuEvents>(KvmIoctls.GetVcpuEvents);

    public void SetVcpuEvents(in KvmVcpuEvents events) => SetState(KvmIoctls.SetVcpuEvents, events);

    public KvmDebugRegs GetDebugRegs() => GetState<KvmDebugRegs>(KvmIoctls.GetDebugRegs);

    public void SetDebugRegs(in KvmDebugRegs debugRegs) => SetState(KvmIoctls.SetDebugRegs, debugRegs);

    /// <summary>KVM_GET_TSC_KHZ: the guest TSC frequency, or 0 when KVM does not know it (EIO) or lacks the ioctl.</summary>
    public uint GetTscKhz()
    {
        var result = KvmIoctl.TryInvoke(_fd, KvmIoctls.GetTscKhz);
        return result > 0 ? (uint)result : 0;
    }

    /// <summary>KVM_SET_TSC_KHZ: scales the guest TSC to <paramref name="khz"/> (needs TSC scaling in hardware unless equal).</summary>
    public void SetTscKhz(uint khz) => KvmIoctl.Invoke(_fd, KvmIoctls.SetTscKhz, (nint)khz);

    /// <summary>
    /// KVM_KVMCLOCK_CTRL: tells a kvmclock guest it was paused (so its soft-lockup watchdog does not fire after a long
    /// stop). False when the guest has no kvmclock page set up (EINVAL), which is not an error.
    /// </summary>
    public bool NotifyClockPaused()
    {
        var result = KvmIoctl.TryInvoke(_fd, KvmIoctls.KvmclockCtrl);
        if (result >= 0)
        {
            return true;
        }

        if (result == -22)
        {
            return false;
        }

        throw KvmIoctl.Error(KvmIoctls.KvmclockCtrl, -result);
    }

    /// <summary>
    /// Finishes the instruction of the last I/O or MMIO exit without entering the guest (KVM_RUN with immediate_exit:
    /// KVM completes a pending exit before it looks at immediate_exit). Call on the bound thread before saving the
    /// state of a vCPU that stopped at such an exit, or the snapshot holds a half-done instruction.
    /// </summary>
    public void CompletePendingExit()
    {
        ImmediateExit = true;
        var exit = Run();
        if (exit.Kind != VmExitKind.Interrupted)
        {
            throw new KvmException(KvmIoctls.Run.Name, $"KVM_RUN with immediate_exit returned {exit.Kind} instead of stopping");
        }
    }
}
