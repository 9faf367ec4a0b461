using ActorVmm.Kvm.X86;
using Xunit;

namespace ActorVmm.Kvm.Tests.X86;

public class X86BootStateTests
{
    [Fact]
    public void Boot_msrs_should_zero_syscall_state_and_tsc_and_enable_fast_strings_and_writeback_mtrrs()
    {
        var msrs = X86Msrs.BootMsrs().ToDictionary(m => m.Index, m => m.Data);

        foreach (var zero in new[] { X86Msrs.Ia32SysenterCs, X86Msrs.Ia32SysenterEsp, X86Msrs.Ia32SysenterEip, X86Msrs.Star,
                     X86Msrs.Lstar, X86Msrs.Cstar, X86Msrs.SyscallMask, X86Msrs.KernelGsBase, X86Msrs.Ia32Tsc })
        {
            Assert.Equal(0UL, msrs[zero]);
        }

        Assert.Equal(1UL, msrs[0x1a0]);
        Assert.Equal(0x806UL, msrs[0x2ff]);
        Assert.Equal(11, msrs.Count);
    }

    [Fact]
    public void Boot_fpu_should_have_the_reset_control_words()
    {
        var fpu = X86Fpu.BootFpu();

        Assert.Equal(0x37f, fpu.Fcw);
        Assert.Equal(0x1f80u, fpu.Mxcsr);
    }
}
