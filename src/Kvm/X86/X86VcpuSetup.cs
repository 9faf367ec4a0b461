using ActorVmm.Kvm.Interop;

namespace ActorVmm.Kvm.X86;

/// <summary>Applies the CPU-level boot state (CPUID, MSRs, FPU, LAPIC LINTs) to a vCPU; registers are the loader's job.</summary>
public static class X86VcpuSetup
{
    /// <summary>
    /// Sets CPUID for vCPU <see cref="Vcpu.Id"/> of <paramref name="vcpuCount"/>, the boot MSRs and FPU state, and —
    /// when the VM has an in-kernel irqchip — LINT0 = ExtINT, LINT1 = NMI. <paramref name="tscDeadlineTimer"/> is
    /// KVM_CAP_TSC_DEADLINE_TIMER: the in-kernel LAPIC then offers the TSC-deadline timer. Returns the CPUID table set.
    /// </summary>
    public static KvmCpuidEntry2[] Configure(
        Vcpu vcpu, ReadOnlySpan<KvmCpuidEntry2> supportedCpuid, int vcpuCount, bool hasIrqchip, bool tscDeadlineTimer = false)
    {
        ArgumentNullException.ThrowIfNull(vcpu);
        var cpuid = X86Cpuid.ForVcpu(supportedCpuid, vcpu.Id, vcpuCount, tscDeadlineTimer && hasIrqchip);
        vcpu.SetCpuid2(cpuid);
        vcpu.SetMsrs(X86Msrs.BootMsrs());
        X86Fpu.Apply(vcpu);
        if (hasIrqchip)
        {
            var lapic = vcpu.GetLapic();
            X86Lapic.ConfigureLint(ref lapic);
            vcpu.SetLapic(lapic);
        }

        return cpuid;
    }
}
