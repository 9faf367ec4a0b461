using ActorVmm.Kvm.Tests.Support;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace ActorVmm.Kvm.Tests.Guest;

[Trait("Category", "Kvm")]
public class RealModeGuestTests
{
    [Fact]
    public void Pio_out_in_and_hlt_should_exit_in_order_with_their_data()
    {
        using var vm = TestVm.Create();
        vm.Load(16, 0x1000, a =>
        {
            a.mov(dx, 0x3f8);
            a.mov(al, 0x41);
            a.@out(dx, al);
            a.@in(al, (byte)0x60);
            a.@out(dx, al);
            a.hlt();
        });
        var vcpu = vm.CreateVcpu(0);
        vcpu.BindToCurrentThread();
        TestVm.EnterRealMode(vcpu, 0x1000);

        var first = TestVm.RunGuarded(vcpu);
        var written = vcpu.ExitData.ToArray();
        var second = TestVm.RunGuarded(vcpu);
        var inData = vcpu.ExitData;
        Assert.Equal(1, inData.Length);
        inData[0] = 0x5a;
        var third = TestVm.RunGuarded(vcpu);
        var echoed = vcpu.ExitData.ToArray();
        var fourth = TestVm.RunGuarded(vcpu);

        Assert.Equal(new VmExit(VmExitKind.IoOut, 0x3f8, 1, 1), first);
        Assert.Equal(new byte[] { 0x41 }, written);
        Assert.Equal(new VmExit(VmExitKind.IoIn, 0x60, 1, 1), second);
        Assert.Equal(new VmExit(VmExitKind.IoOut, 0x3f8, 1, 1), third);
        Assert.Equal(new byte[] { 0x5a }, echoed);
        Assert.Equal(VmExitKind.Hlt, fourth.Kind);
        Assert.Equal(0, vcpu.ExitData.Length);
    }

    [Fact]
    public void String_out_should_expose_every_byte_of_the_rep_outsb()
    {
        using var vm = TestVm.Create();
        vm.Memory.Write(new ActorVmm.Kvm.Memory.GuestAddress(0x3000), "hello"u8);
        vm.Load(16, 0x1000, a =>
        {
            a.mov(si, 0x3000);
            a.mov(cx, 5);
            a.mov(dx, 0x3f8);
            a.rep.outsb();
            a.hlt();
        });
        var vcpu = vm.CreateVcpu(0);
        vcpu.BindToCurrentThread();
        TestVm.EnterRealMode(vcpu, 0x1000);

        var exits = new List<(VmExit Exit, byte[] Data)>();
        VmExit exit;
        while ((exit = TestVm.RunGuarded(vcpu)).Kind == VmExitKind.IoOut)
        {
            exits.Add((exit, vcpu.ExitData.ToArray()));
        }

        Assert.Equal(VmExitKind.Hlt, exit.Kind);
        Assert.Equal("hello", string.Concat(exits.SelectMany(e => e.Data).Select(b => (char)b)));
        Assert.All(exits, e => Assert.Equal(e.Exit.Count, e.Data.Length));
    }

    [Fact]
    public void Guest_registers_should_be_readable_after_an_exit()
    {
        using var vm = TestVm.Create();
        vm.Load(16, 0x1000, a =>
        {
            a.mov(bx, 0x1234);
            a.hlt();
        });
        var vcpu = vm.CreateVcpu(0);
        vcpu.BindToCurrentThread();
        TestVm.EnterRealMode(vcpu, 0x1000);

        var exit = TestVm.RunGuarded(vcpu);
        var regs = vcpu.GetRegs();

        Assert.Equal(VmExitKind.Hlt, exit.Kind);
        Assert.Equal(0x1234UL, regs.Rbx & 0xffff);
        Assert.Equal(0x1004UL, regs.Rip); // mov bx, imm16 (3 bytes) + hlt (1 byte)
    }
}
