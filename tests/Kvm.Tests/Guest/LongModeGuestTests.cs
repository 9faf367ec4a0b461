using ActorVmm.Kvm.Tests.Support;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace ActorVmm.Kvm.Tests.Guest;

[Trait("Category", "Kvm")]
public class LongModeGuestTests
{
    [Fact]
    public void Mmio_qword_write_and_answered_read_should_round_trip_through_the_guest()
    {
        using var vm = TestVm.Create();
        vm.Load(64, 0x1000, a =>
        {
            a.mov(rbx, TestVm.MmioAddress);
            a.mov(rax, 0x1122_3344_5566_7788UL);
            a.mov(__qword_ptr[rbx], rax);
            a.mov(ecx, __dword_ptr[rbx + 8]);
            a.mov(__dword_ptr[rbx + 16], ecx);
            a.mov(dx, 0x3f8);
            a.@out(dx, ax);
            a.hlt();
        });
        var vcpu = vm.CreateVcpu(0);
        vcpu.BindToCurrentThread();
        vm.EnterLongMode(vcpu, 0x1000);

        var write = TestVm.RunGuarded(vcpu);
        var written = BitConverter.ToUInt64(vcpu.ExitData);
        var read = TestVm.RunGuarded(vcpu);
        Assert.Equal(4, vcpu.ExitData.Length);
        BitConverter.TryWriteBytes(vcpu.ExitData, 0xcafe_babeu);
        var echo = TestVm.RunGuarded(vcpu);
        var echoed = BitConverter.ToUInt32(vcpu.ExitData);
        var pio = TestVm.RunGuarded(vcpu);
        var pioData = BitConverter.ToUInt16(vcpu.ExitData);
        var halt = TestVm.RunGuarded(vcpu);

        Assert.Equal(new VmExit(VmExitKind.MmioWrite, TestVm.MmioAddress, 8), write);
        Assert.Equal(0x1122_3344_5566_7788UL, written);
        Assert.Equal(new VmExit(VmExitKind.MmioRead, TestVm.MmioAddress + 8, 4), read);
        Assert.Equal(new VmExit(VmExitKind.MmioWrite, TestVm.MmioAddress + 16, 4), echo);
        Assert.Equal(0xcafe_babeu, echoed);
        Assert.Equal(new VmExit(VmExitKind.IoOut, 0x3f8, 2, 1), pio);
        Assert.Equal((ushort)0x7788, pioData);
        Assert.Equal(VmExitKind.Hlt, halt.Kind);
    }

    [Fact]
    public void Vcpu_should_really_be_in_long_mode()
    {
        using var vm = TestVm.Create();
        vm.Load(64, 0x1000, a =>
        {
            a.mov(rax, 0x8000_0000_0000_0001UL); // a 64-bit immediate only exists in 64-bit mode
            a.hlt();
        });
        var vcpu = vm.CreateVcpu(0);
        vcpu.BindToCurrentThread();
        vm.EnterLongMode(vcpu, 0x1000);

        var exit = TestVm.RunGuarded(vcpu);

        Assert.Equal(VmExitKind.Hlt, exit.Kind);
        Assert.Equal(0x8000_0000_0000_0001UL, vcpu.GetRegs().Rax);
        Assert.Equal(0x500UL, vcpu.GetSregs().Efer & 0x500);
    }
}
