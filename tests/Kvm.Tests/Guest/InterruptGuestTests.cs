using ActorVmm.Kvm.Memory;
using ActorVmm.Kvm.Tests.Support;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace ActorVmm.Kvm.Tests.Guest;

[Trait("Category", "Kvm")]
public class InterruptGuestTests
{
    private const uint Gsi = 4;
    private const byte VectorBase = 0x20;
    private const ulong HandlerAddress = 0x2000;

    [Fact]
    public void Interrupt_injected_through_an_irqfd_should_run_the_guest_handler()
    {
        using var vm = TestVm.Create(irqchip: true);

        // Real-mode IVT entry for the PIC's IRQ 4 -> handler at 0000:2000.
        vm.Memory.Write(new GuestAddress((VectorBase + Gsi) * 4), (uint)HandlerAddress);
        vm.Load(16, HandlerAddress, a =>
        {
            a.mov(dx, 0x3f8);
            a.mov(al, (byte)'I');
            a.@out(dx, al);
            a.mov(al, 0x20);
            a.@out((byte)0x20, al); // EOI to the master PIC
            a.iret();
        });
        vm.Load(16, 0x1000, a =>
        {
            var idle = a.CreateLabel();
            a.cli();
            a.mov(al, 0x11);
            a.@out((byte)0x20, al); // ICW1: edge, cascade, ICW4 follows
            a.mov(al, VectorBase);
            a.@out((byte)0x21, al); // ICW2: vectors 0x20..0x27
            a.mov(al, 0x04);
            a.@out((byte)0x21, al); // ICW3: slave on IRQ 2
            a.mov(al, 0x01);
            a.@out((byte)0x21, al); // ICW4: 8086 mode
            a.mov(al, unchecked((byte)~(1 << (int)Gsi)));
            a.@out((byte)0x21, al); // OCW1: only IRQ 4 unmasked
            a.mov(dx, 0x3f8);
            a.mov(al, (byte)'R');
            a.@out(dx, al); // ready
            a.sti();
            a.Label(ref idle);
            a.hlt();
            a.jmp(idle);
        });
        var vcpu = vm.CreateVcpu(0);
        vcpu.BindToCurrentThread();
        TestVm.EnterRealMode(vcpu, 0x1000);
        using var irq = EventFd.Create();
        vm.Vm.RegisterIrqfd(irq, Gsi);

        var ready = TestVm.RunGuarded(vcpu);
        var readyByte = vcpu.ExitData[0];
        irq.Write();
        var handled = TestVm.RunGuarded(vcpu);
        var handledByte = vcpu.ExitData[0];

        Assert.Equal(new VmExit(VmExitKind.IoOut, 0x3f8, 1, 1), ready);
        Assert.Equal((byte)'R', readyByte);
        Assert.Equal(new VmExit(VmExitKind.IoOut, 0x3f8, 1, 1), handled);
        Assert.Equal((byte)'I', handledByte);
        vm.Vm.UnregisterIrqfd(irq, Gsi);
    }

    [Fact]
    public void Ioeventfd_should_absorb_a_matching_guest_write_and_signal_the_eventfd()
    {
        using var vm = TestVm.Create();
        vm.Load(16, 0x1000, a =>
        {
            a.mov(dx, 0x510);
            a.mov(al, 7);
            a.@out(dx, al); // matches: no exit
            a.mov(al, 8);
            a.@out(dx, al); // does not match: exits
            a.hlt();
        });
        var vcpu = vm.CreateVcpu(0);
        vcpu.BindToCurrentThread();
        TestVm.EnterRealMode(vcpu, 0x1000);
        using var notify = EventFd.Create();
        vm.Vm.RegisterIoeventfd(notify, 0x510, 1, pio: true, dataMatch: 7);

        var exit = TestVm.RunGuarded(vcpu);
        var data = vcpu.ExitData[0];

        Assert.Equal(new VmExit(VmExitKind.IoOut, 0x510, 1, 1), exit);
        Assert.Equal(8, data);
        Assert.True(notify.TryRead(out var count));
        Assert.Equal(1UL, count);
        vm.Vm.UnregisterIoeventfd(notify, 0x510, 1, pio: true, dataMatch: 7);
    }
}
