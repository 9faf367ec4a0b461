using System.Runtime.CompilerServices;
using ActorVmm.Kvm.Interop;
using Xunit;

namespace ActorVmm.Kvm.Tests.Interop;

/// <summary>
/// Sizes and field offsets of the kernel structs, against &lt;linux/kvm.h&gt; on x86-64 (numbers printed by a C program
/// compiled with gcc against linux-libc-dev's headers; sizeof/offsetof).
/// </summary>
public class StructLayoutTests
{
    private static int Offset<TStruct, TField>(ref TStruct s, ref TField field) =>
        (int)Unsafe.ByteOffset(ref Unsafe.As<TStruct, byte>(ref s), ref Unsafe.As<TField, byte>(ref field));

    [Fact]
    public void KvmRegs_should_match_kernel_layout()
    {
        var s = default(KvmRegs);
        Assert.Equal(144, Unsafe.SizeOf<KvmRegs>());
        Assert.Equal(0, Offset(ref s, ref s.Rax));
        Assert.Equal(8, Offset(ref s, ref s.Rbx));
        Assert.Equal(16, Offset(ref s, ref s.Rcx));
        Assert.Equal(24, Offset(ref s, ref s.Rdx));
        Assert.Equal(32, Offset(ref s, ref s.Rsi));
        Assert.Equal(40, Offset(ref s, ref s.Rdi));
        Assert.Equal(48, Offset(ref s, ref s.Rsp));
        Assert.Equal(56, Offset(ref s, ref s.Rbp));
        Assert.Equal(64, Offset(ref s, ref s.R8));
        Assert.Equal(120, Offset(ref s, ref s.R15));
        Assert.Equal(128, Offset(ref s, ref s.Rip));
        Assert.Equal(136, Offset(ref s, ref s.Rflags));
    }

    [Fact]
    public void KvmSegment_should_match_kernel_layout()
    {
        var s = default(KvmSegment);
        Assert.Equal(24, Unsafe.SizeOf<KvmSegment>());
        Assert.Equal(0, Offset(ref s, ref s.Base));
        Assert.Equal(8, Offset(ref s, ref s.Limit));
        Assert.Equal(12, Offset(ref s, ref s.Selector));
        Assert.Equal(14, Offset(ref s, ref s.Type));
        Assert.Equal(15, Offset(ref s, ref s.Present));
        Assert.Equal(16, Offset(ref s, ref s.Dpl));
        Assert.Equal(17, Offset(ref s, ref s.Db));
        Assert.Equal(18, Offset(ref s, ref s.S));
        Assert.Equal(19, Offset(ref s, ref s.L));
        Assert.Equal(20, Offset(ref s, ref s.G));
        Assert.Equal(21, Offset(ref s, ref s.Avl));
        Assert.Equal(22, Offset(ref s, ref s.Unusable));
        Assert.Equal(23, Offset(ref s, ref s.Padding));
    }

    [Fact]
    public void KvmDtable_should_match_kernel_layout()
    {
        var s = default(KvmDtable);
        Assert.Equal(16, Unsafe.SizeOf<KvmDtable>());
        Assert.Equal(0, Offset(ref s, ref s.Base));
        Assert.Equal(8, Offset(ref s, ref s.Limit));
    }

    [Fact]
    public void KvmSregs_should_match_kernel_layout()
    {
        var s = default(KvmSregs);
        Assert.Equal(312, Unsafe.SizeOf<KvmSregs>());
        Assert.Equal(0, Offset(ref s, ref s.Cs));
        Assert.Equal(24, Offset(ref s, ref s.Ds));
        Assert.Equal(48, Offset(ref s, ref s.Es));
        Assert.Equal(72, Offset(ref s, ref s.Fs));
        Assert.Equal(96, Offset(ref s, ref s.Gs));
        Assert.Equal(120, Offset(ref s, ref s.Ss));
        Assert.Equal(144, Offset(ref s, ref s.Tr));
        Assert.Equal(168, Offset(ref s, ref s.Ldt));
        Assert.Equal(192, Offset(ref s, ref s.Gdt));
        Assert.Equal(208, Offset(ref s, ref s.Idt));
        Assert.Equal(224, Offset(ref s, ref s.Cr0));
        Assert.Equal(232, Offset(ref s, ref s.Cr2));
        Assert.Equal(240, Offset(ref s, ref s.Cr3));
        Assert.Equal(248, Offset(ref s, ref s.Cr4));
        Assert.Equal(256, Offset(ref s, ref s.Cr8));
        Assert.Equal(264, Offset(ref s, ref s.Efer));
        Assert.Equal(272, Offset(ref s, ref s.ApicBase));
        Assert.Equal(280, Offset(ref s, ref s.InterruptBitmap));
    }

    [Fact]
    public void KvmFpu_should_match_kernel_layout()
    {
        var s = default(KvmFpu);
        Assert.Equal(416, Unsafe.SizeOf<KvmFpu>());
        Assert.Equal(0, Offset(ref s, ref s.Fpr));
        Assert.Equal(128, Offset(ref s, ref s.Fcw));
        Assert.Equal(130, Offset(ref s, ref s.Fsw));
        Assert.Equal(132, Offset(ref s, ref s.Ftwx));
        Assert.Equal(134, Offset(ref s, ref s.LastOpcode));
        Assert.Equal(136, Offset(ref s, ref s.LastIp));
        Assert.Equal(144, Offset(ref s, ref s.LastDp));
        Assert.Equal(152, Offset(ref s, ref s.Xmm));
        Assert.Equal(408, Offset(ref s, ref s.Mxcsr));
    }

    [Fact]
    public void KvmUserspaceMemoryRegion_should_match_kernel_layout()
    {
        var s = default(KvmUserspaceMemoryRegion);
        Assert.Equal(32, Unsafe.SizeOf<KvmUserspaceMemoryRegion>());
        Assert.Equal(0, Offset(ref s, ref s.Slot));
        Assert.Equal(4, Offset(ref s, ref s.Flags));
        Assert.Equal(8, Offset(ref s, ref s.GuestPhysAddr));
        Assert.Equal(16, Offset(ref s, ref s.MemorySize));
        Assert.Equal(24, Offset(ref s, ref s.UserspaceAddr));
    }

    [Fact]
    public void KvmRun_should_match_kernel_layout_with_exit_union_at_32()
    {
        var s = default(KvmRun);
        Assert.Equal(2352, Unsafe.SizeOf<KvmRun>());
        Assert.Equal(0, Offset(ref s, ref s.RequestInterruptWindow));
        Assert.Equal(1, Offset(ref s, ref s.ImmediateExit));
        Assert.Equal(8, Offset(ref s, ref s.ExitReason));
        Assert.Equal(12, Offset(ref s, ref s.ReadyForInterruptInjection));
        Assert.Equal(13, Offset(ref s, ref s.IfFlag));
        Assert.Equal(14, Offset(ref s, ref s.Flags));
        Assert.Equal(16, Offset(ref s, ref s.Cr8));
        Assert.Equal(24, Offset(ref s, ref s.ApicBase));
        Assert.Equal(32, Offset(ref s, ref s.Hw.HardwareExitReason));
        Assert.Equal(32, Offset(ref s, ref s.Io.Direction));
        Assert.Equal(33, Offset(ref s, ref s.Io.Size));
        Assert.Equal(34, Offset(ref s, ref s.Io.Port));
        Assert.Equal(36, Offset(ref s, ref s.Io.Count));
        Assert.Equal(40, Offset(ref s, ref s.Io.DataOffset));
        Assert.Equal(32, Offset(ref s, ref s.Mmio.PhysAddr));
        Assert.Equal(40, Offset(ref s, ref s.Mmio.Data));
        Assert.Equal(48, Offset(ref s, ref s.Mmio.Len));
        Assert.Equal(52, Offset(ref s, ref s.Mmio.IsWrite));
        Assert.Equal(32, Offset(ref s, ref s.FailEntry.HardwareEntryFailureReason));
        Assert.Equal(40, Offset(ref s, ref s.FailEntry.Cpu));
        Assert.Equal(32, Offset(ref s, ref s.Internal.Suberror));
        Assert.Equal(36, Offset(ref s, ref s.Internal.Ndata));
        Assert.Equal(40, Offset(ref s, ref s.Internal.Data));
        Assert.Equal(32, Offset(ref s, ref s.SystemEvent.Type));
        Assert.Equal(36, Offset(ref s, ref s.SystemEvent.Ndata));
        Assert.Equal(40, Offset(ref s, ref s.SystemEvent.Data));
        Assert.Equal(288, Offset(ref s, ref s.KvmValidRegs));
        Assert.Equal(296, Offset(ref s, ref s.KvmDirtyRegs));
        Assert.Equal(Vcpu.MmioDataOffset, Offset(ref s, ref s.Mmio.Data));
    }

    [Fact]
    public void KvmIrqfd_should_match_kernel_layout()
    {
        var s = default(KvmIrqfd);
        Assert.Equal(32, Unsafe.SizeOf<KvmIrqfd>());
        Assert.Equal(0, Offset(ref s, ref s.Fd));
        Assert.Equal(4, Offset(ref s, ref s.Gsi));
        Assert.Equal(8, Offset(ref s, ref s.Flags));
        Assert.Equal(12, Offset(ref s, ref s.ResampleFd));
        Assert.Equal(16, Offset(ref s, ref s.Pad));
    }

    [Fact]
    public void KvmIoeventfd_should_match_kernel_layout()
    {
        var s = default(KvmIoeventfd);
        Assert.Equal(64, Unsafe.SizeOf<KvmIoeventfd>());
        Assert.Equal(0, Offset(ref s, ref s.Datamatch));
        Assert.Equal(8, Offset(ref s, ref s.Addr));
        Assert.Equal(16, Offset(ref s, ref s.Len));
        Assert.Equal(20, Offset(ref s, ref s.Fd));
        Assert.Equal(24, Offset(ref s, ref s.Flags));
        Assert.Equal(28, Offset(ref s, ref s.Pad));
    }

    [Fact]
    public void KvmCpuidEntry2_should_match_kernel_layout()
    {
        var s = default(KvmCpuidEntry2);
        Assert.Equal(40, Unsafe.SizeOf<KvmCpuidEntry2>());
        Assert.Equal(0, Offset(ref s, ref s.Function));
        Assert.Equal(4, Offset(ref s, ref s.Index));
        Assert.Equal(8, Offset(ref s, ref s.Flags));
        Assert.Equal(12, Offset(ref s, ref s.Eax));
        Assert.Equal(16, Offset(ref s, ref s.Ebx));
        Assert.Equal(20, Offset(ref s, ref s.Ecx));
        Assert.Equal(24, Offset(ref s, ref s.Edx));
        Assert.Equal(28, Offset(ref s, ref s.Padding0));
    }

    [Fact]
    public void KvmMsrEntry_should_match_kernel_layout()
    {
        var s = default(KvmMsrEntry);
        Assert.Equal(16, Unsafe.SizeOf<KvmMsrEntry>());
        Assert.Equal(0, Offset(ref s, ref s.Index));
        Assert.Equal(4, Offset(ref s, ref s.Reserved));
        Assert.Equal(8, Offset(ref s, ref s.Data));
    }

    [Fact]
    public void KvmPitConfig_should_match_kernel_layout()
    {
        var s = default(KvmPitConfig);
        Assert.Equal(64, Unsafe.SizeOf<KvmPitConfig>());
        Assert.Equal(0, Offset(ref s, ref s.Flags));
        Assert.Equal(4, Offset(ref s, ref s.Pad));
    }

    [Fact]
    public void KvmLapicState_should_be_1024_bytes_of_registers()
    {
        var s = default(KvmLapicState);
        Assert.Equal(1024, Unsafe.SizeOf<KvmLapicState>());
        Assert.Equal(0, Offset(ref s, ref s.Regs));
    }

    [Fact]
    public void KvmIrqLevel_should_match_kernel_layout()
    {
        var s = default(KvmIrqLevel);
        Assert.Equal(8, Unsafe.SizeOf<KvmIrqLevel>());
        Assert.Equal(0, Offset(ref s, ref s.Irq));
        Assert.Equal(4, Offset(ref s, ref s.Level));
    }

    [Fact]
    public void KvmMpState_and_signal_mask_header_should_match_kernel_layout()
    {
        var m = default(KvmMpState);
        var h = default(KvmSignalMaskHeader);
        Assert.Equal(4, Unsafe.SizeOf<KvmMpState>());
        Assert.Equal(0, Offset(ref m, ref m.MpState));
        Assert.Equal(4, Unsafe.SizeOf<KvmSignalMaskHeader>());
        Assert.Equal(0, Offset(ref h, ref h.Len));
    }

    [Fact]
    public void KvmMsi_should_match_kernel_layout()
    {
        var s = default(KvmMsi);
        Assert.Equal(32, Unsafe.SizeOf<KvmMsi>());
        Assert.Equal(0, Offset(ref s, ref s.AddressLo));
        Assert.Equal(4, Offset(ref s, ref s.AddressHi));
        Assert.Equal(8, Offset(ref s, ref s.Data));
        Assert.Equal(12, Offset(ref s, ref s.Flags));
        Assert.Equal(16, Offset(ref s, ref s.DevId));
    }

    [Fact]
    public void KvmIrqRoutingEntry_should_match_kernel_layout()
    {
        var s = default(KvmIrqRoutingEntry);
        Assert.Equal(48, Unsafe.SizeOf<KvmIrqRoutingEntry>());
        Assert.Equal(0, Offset(ref s, ref s.Gsi));
        Assert.Equal(4, Offset(ref s, ref s.Type));
        Assert.Equal(8, Offset(ref s, ref s.Flags));
        Assert.Equal(12, Offset(ref s, ref s.Pad));
        Assert.Equal(16, Offset(ref s, ref s.Irqchip));
        Assert.Equal(20, Offset(ref s, ref s.Pin));
        Assert.Equal(16, Offset(ref s, ref s.MsiAddressLo));
        Assert.Equal(20, Offset(ref s, ref s.MsiAddressHi));
        Assert.Equal(24, Offset(ref s, ref s.MsiData));
        Assert.Equal(28, Offset(ref s, ref s.MsiDevId));
    }

    [Fact]
    public void KvmXsave_should_be_4096_bytes_with_mxcsr_at_24_and_xstate_bv_at_512()
    {
        var s = default(KvmXsave);
        s.Mxcsr = 0x1f80;
        s.XstateBv = 2;
        ReadOnlySpan<byte> bytes = s.Region;

        Assert.Equal(4096, Unsafe.SizeOf<KvmXsave>());
        Assert.Equal(0x1f80u, BitConverter.ToUInt32(bytes[24..]));
        Assert.Equal(2UL, BitConverter.ToUInt64(bytes[512..]));
    }
}
