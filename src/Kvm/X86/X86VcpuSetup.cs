using ActorVmm.Kvm.Interop;

namespace ActorVmm.Kvm.X86;

/// <summary>Applies the CPU-level boot state (CPUID, MSRs, FPU, LAPIC LINTs) to a vCPU; registers are the loader's job.</summary>
public static class X86VcpuSetup
{
    /// <summary>
    /// Sets CPUID for vCPU index <see cref="Vcpu.Id"/> of <paramref name="topology"/>, the boot MSRs and FPU state, and —
    /// when the VM has an in-kernel irqchip — LINT0 = ExtINT, LINT1 = NMI. <paramref name="tscDeadlineTimer"/> is
    /// KVM_CAP_TSC_DEADLINE_TIMER: the in-kernel LAPIC then offers the TSC-deadline timer. Returns the CPUID table set.
    /// The vCPU must have been created with its topology's APIC id (<see cref="KvmVm.CreateVcpu(int, int)"/>).
    /// </summary>
    public static KvmCpuidEntry2[] Configure(
        Vcpu vcpu, ReadOnlySpan<KvmCpuidEntry2> supportedCpuid, CpuTopology topology, bool hasIrqchip, bool tscDeadlineTimer = false)
    {
        ArgumentNullException.ThrowIfNull(vcpu);
        ArgumentNullException.ThrowIfNull(topology);
        if (vcpu.ApicId != topology.ApicId(vcpu.Id))
        {
            throw new ArgumentException(
                $"vCPU {vcpu.Id} was created with KVM id {vcpu.ApicId}, but the topology gives it APIC id {topology.ApicId(vcpu.Id)}", nameof(vcpu));
        }

        var cpuid = X86Cpuid.ForVcpu(supportedCpuid, topology, vcpu.Id, tscDeadlineTimer && hasIrqchip);
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
