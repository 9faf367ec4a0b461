using ActorVmm.Kvm.Interop;
using ActorVmm.Kvm.X86;
using Xunit;

namespace ActorVmm.Kvm.Tests.X86;

public class X86LapicTests
{
    [Fact]
    public void ConfigureLint_should_make_lint0_extint_and_lint1_nmi_keeping_other_bits()
    {
        var lapic = default(KvmLapicState);
        lapic.SetRegister(X86Lapic.RegisterLvtLint0, 0x0001_0000); // masked, fixed
        lapic.SetRegister(X86Lapic.RegisterLvtLint1, 0x0001_0000 | 0x200); // masked, SMI
        lapic.SetRegister(X86Lapic.RegisterSpuriousVector, 0x1ff);

        X86Lapic.ConfigureLint(ref lapic);

        Assert.Equal(0x0001_0700u, lapic.GetRegister(X86Lapic.RegisterLvtLint0));
        Assert.Equal(0x0001_0400u, lapic.GetRegister(X86Lapic.RegisterLvtLint1));
        Assert.Equal(0x1ffu, lapic.GetRegister(X86Lapic.RegisterSpuriousVector));
    }

    [Fact]
    public void Registers_should_sit_at_their_mmio_offsets_little_endian()
    {
        var lapic = default(KvmLapicState);

        lapic.SetRegister(0x350, 0x11223344);

        ReadOnlySpan<byte> regs = lapic.Regs;
        Assert.Equal(new byte[] { 0x44, 0x33, 0x22, 0x11 }, regs.Slice(0x350, 4).ToArray());
    }

    [Theory]
    [InlineData(-16)]
    [InlineData(0x351)]
    [InlineData(0x400)]
    [InlineData(int.MaxValue)]
    public void Register_offsets_outside_the_page_or_unaligned_should_be_refused(int offset)
    {
        var lapic = default(KvmLapicState);

        Assert.Throws<ArgumentOutOfRangeException>(() => lapic.SetRegister(offset, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => lapic.GetRegister(offset));
    }
}
