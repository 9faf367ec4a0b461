namespace ActorVmm.Kvm.X86;

/// <summary>Saving and restoring the whole state of an x86 vCPU, in the order KVM needs (as Firecracker does).</summary>
public static class VcpuSnapshot
{
    /// <summary>
    /// Reads every piece of <paramref name="vcpu"/>'s state a snapshot needs. The vCPU must be stopped (not inside
    /// KVM_RUN) with its last exit completed (<see cref="Vcpu.CompletePendingExit"/>). <paramref name="msrIndices"/> is
    /// the list to save (<see cref="SnapshotMsrs.Select"/> of <see cref="KvmSystem.GetMsrIndexList"/>); MSRs this vCPU
    /// cannot read are left out. CPUID is not part of the state: the caller sets the same table before restoring.
    /// </summary>
    public static VcpuState SaveState(this Vcpu vcpu, ReadOnlySpan<uint> msrIndices)
    {
        ArgumentNullException.ThrowIfNull(vcpu);

        // MP state first: KVM_GET_MP_STATE processes pending INIT/SIPI events, which the other reads then see.
        var mpState = vcpu.GetMpState();
        var regs = vcpu.GetRegs();
        var sregs = vcpu.GetSregs();
        var xsave = vcpu.GetXsaveBytes();
        var xcrs = vcpu.GetXcrs();
        var debugRegs = vcpu.GetDebugRegs();
        var lapic = vcpu.GetLapic();
        var tscKhz = vcpu.GetTscKhz();
        var msrs = SnapshotMsrs.ReadReadable(msrIndices, vcpu.GetMsrs);
        var events = vcpu.GetVcpuEvents();
        return new VcpuState(vcpu.Id, regs, sregs, xsave, xcrs, msrs, lapic, events, mpState, debugRegs, tscKhz);
    }

    /// <summary>
    /// Puts <paramref name="state"/> into <paramref name="vcpu"/> (created, CPUID set, not yet run): TSC frequency (only
    /// when it differs from the vCPU's), MP state, registers, special registers, XSAVE, XCRs, debug registers, LAPIC
    /// (after the special registers, which set the APIC base), MSRs, events. A refused piece throws a
    /// <see cref="KvmException"/> naming the ioctl (or the MSR).
    /// </summary>
    public static void RestoreState(this Vcpu vcpu, VcpuState state)
    {
        ArgumentNullException.ThrowIfNull(vcpu);
        ArgumentNullException.ThrowIfNull(state);
        if (state.TscKhz != 0)
        {
            var current = vcpu.GetTscKhz();
            if (current != state.TscKhz)
            {
                try
                {
                    vcpu.SetTscKhz(state.TscKhz);
                }
                catch (KvmException e)
                {
                    throw new KvmException(e.Ioctl,
                        $"cannot run vCPU {vcpu.Id}'s TSC at the snapshot's {state.TscKhz} kHz (this host runs it at {current} kHz): {KvmException.ErrnoName(e.Errno)}");
                }
            }
        }

        vcpu.SetMpState(state.MpState);
        vcpu.SetRegs(state.Regs);
        vcpu.SetSregs(state.Sregs);
        vcpu.SetXsaveBytes(state.Xsave);
        vcpu.SetXcrs(state.Xcrs);
        vcpu.SetDebugRegs(state.DebugRegs);
        vcpu.SetLapic(state.Lapic);
        vcpu.SetMsrs(state.Msrs);
        vcpu.SetVcpuEvents(state.Events);
    }
}
