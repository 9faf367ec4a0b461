using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ActorVmm.Kvm.Interop;

/// <summary>struct kvm_sregs (x86-64): segment, descriptor-table and control registers. 312 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmSregs
{
    public KvmSegment Cs;
    public KvmSegment Ds;
    public KvmSegment Es;
    public KvmSegment Fs;
    public KvmSegment Gs;
    public KvmSegment Ss;
    public KvmSegment Tr;
    public KvmSegment Ldt;
    public KvmDtable Gdt;
    public KvmDtable Idt;
    public ulong Cr0;
    public ulong Cr2;
    public ulong Cr3;
    public ulong Cr4;
    public ulong Cr8;
    public ulong Efer;
    public ulong ApicBase;
    public KvmInterruptBitmap InterruptBitmap;
}

/// <summary>kvm_sregs.interrupt_bitmap: one bit per pending external interrupt vector (256 bits).</summary>
[InlineArray(4)]
public struct KvmInterruptBitmap
{
    private ulong _element0;
}
