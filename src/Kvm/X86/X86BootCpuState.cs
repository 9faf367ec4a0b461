namespace ActorVmm.Kvm.X86;

/// <summary>
/// One segment register as KVM's struct kvm_segment describes it, as plain values (no KVM types here).
/// </summary>
public readonly record struct SegmentState(
    ulong Base,
    uint Limit,
    ushort Selector,
    byte Type,
    bool Present,
    byte Dpl,
    bool Db,
    bool S,
    bool L,
    bool G,
    bool Avl,
    bool Unusable)
{
    /// <summary>An unusable (null) segment, e.g. the LDT.</summary>
    public static readonly SegmentState Null = new(0, 0, 0, 0, false, 0, false, false, false, false, false, true);
}

/// <summary>A descriptor-table register (GDTR / IDTR).</summary>
public readonly record struct DescriptorTableState(ulong Base, ushort Limit);

/// <summary>
/// Everything the boot vCPU needs to start a Linux kernel in 64-bit long mode: general registers, control
/// registers, EFER, segments and descriptor tables. Registers not named here start at zero.
/// </summary>
public sealed record X86BootCpuState(
    ulong Rip,
    ulong Rsp,
    ulong Rbp,
    ulong Rsi,
    ulong Rflags,
    ulong Cr0,
    ulong Cr3,
    ulong Cr4,
    ulong Efer,
    SegmentState Cs,
    SegmentState Ds,
    SegmentState Es,
    SegmentState Fs,
    SegmentState Gs,
    SegmentState Ss,
    SegmentState Tr,
    SegmentState Ldt,
    DescriptorTableState Gdt,
    DescriptorTableState Idt);
