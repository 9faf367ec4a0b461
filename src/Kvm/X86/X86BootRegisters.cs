using ActorVmm.Kvm.Interop;

namespace ActorVmm.Kvm.X86;

/// <summary>Copies a loader's <see cref="X86BootCpuState"/> (plain values) into a vCPU's registers.</summary>
public static class X86BootRegisters
{
    /// <summary>The general registers for <paramref name="state"/>; registers it does not name are zero.</summary>
    public static KvmRegs ToRegs(X86BootCpuState state) => new()
    {
        Rip = state.Rip,
        Rsp = state.Rsp,
        Rbp = state.Rbp,
        Rsi = state.Rsi,
        Rflags = state.Rflags,
    };

    /// <summary><paramref name="current"/> (as read from the vCPU) with the boot state's segments, tables and control registers.</summary>
    public static KvmSregs ToSregs(X86BootCpuState state, KvmSregs current)
    {
        var sregs = current;
        sregs.Cs = ToSegment(state.Cs);
        sregs.Ds = ToSegment(state.Ds);
        sregs.Es = ToSegment(state.Es);
        sregs.Fs = ToSegment(state.Fs);
        sregs.Gs = ToSegment(state.Gs);
        sregs.Ss = ToSegment(state.Ss);
        sregs.Tr = ToSegment(state.Tr);
        sregs.Ldt = ToSegment(state.Ldt);
        sregs.Gdt = new KvmDtable { Base = state.Gdt.Base, Limit = state.Gdt.Limit };
        sregs.Idt = new KvmDtable { Base = state.Idt.Base, Limit = state.Idt.Limit };
        sregs.Cr0 = state.Cr0;
        sregs.Cr3 = state.Cr3;
        sregs.Cr4 = state.Cr4;
        sregs.Efer = state.Efer;
        return sregs;
    }

    /// <summary>Sets sregs then regs of <paramref name="vcpu"/> from <paramref name="state"/>.</summary>
    public static void Apply(Vcpu vcpu, X86BootCpuState state)
    {
        ArgumentNullException.ThrowIfNull(vcpu);
        ArgumentNullException.ThrowIfNull(state);
        vcpu.SetSregs(ToSregs(state, vcpu.GetSregs()));
        vcpu.SetRegs(ToRegs(state));
    }

    private static KvmSegment ToSegment(SegmentState s) => new()
    {
        Base = s.Base,
        Limit = s.Limit,
        Selector = s.Selector,
        Type = s.Type,
        Present = B(s.Present),
        Dpl = s.Dpl,
        Db = B(s.Db),
        S = B(s.S),
        L = B(s.L),
        G = B(s.G),
        Avl = B(s.Avl),
        Unusable = B(s.Unusable),
    };

    private static byte B(bool value) => value ? (byte)1 : (byte)0;
}
