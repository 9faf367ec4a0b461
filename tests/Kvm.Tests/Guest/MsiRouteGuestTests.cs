using ActorVmm.Kvm.Interop;
using ActorVmm.Kvm.Memory;
using ActorVmm.Kvm.Tests.Support;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace ActorVmm.Kvm.Tests.Guest;

/// <summary>An MSI route in the GSI routing table, raised through an irqfd, reaches the guest as its message says.</summary>
[Trait("Category", "Kvm")]
public class MsiRouteGuestTests
{
    private const uint MsiGsi = 24;
    private const byte Vector = 0x40;
    private const ulong Handler = 0x2000;
    private const int SpuriousVectorRegister = 0xF0;

    [Fact]
    public void An_irqfd_on_an_msi_route_should_deliver_the_programmed_vector()
    {
        using var vm = TestVm.Create(irqchip: true);

        // The message: physical destination APIC 0, fixed delivery of vector 0x40, which the real-mode guest takes
        // through IVT entry 0x40 once its local APIC is software-enabled (set from the host below).
        vm.Memory.Write(new GuestAddress(Vector * 4), (uint)Handler);
        vm.Load(16, Handler, a =>
        {
            a.mov(dx, 0x3f8);
            a.mov(al, (byte)'M');
            a.@out(dx, al);
            a.iret();
        });
        vm.Load(16, 0x1000, a =>
        {
            var idle = a.CreateLabel();
            a.mov(dx, 0x3f8);
            a.mov(al, (byte)'R');
            a.@out(dx, al);
            a.sti();
            a.Label(ref idle);
            a.hlt();
            a.jmp(idle);
        });
        var vcpu = vm.CreateVcpu(0);
        vcpu.BindToCurrentThread();
        TestVm.EnterRealMode(vcpu, 0x1000);
        var lapic = vcpu.GetLapic();
        lapic.SetRegister(SpuriousVectorRegister, 0x1FF);
        vcpu.SetLapic(lapic);
        var routes = new List<KvmIrqRoutingEntry>(KvmIrqRouting.X86Default())
        {
            KvmIrqRoutingEntry.ForMsi(MsiGsi, 0xFEE0_0000, Vector),
        };
        vm.Vm.SetGsiRouting(routes.ToArray());
        using var msi = EventFd.Create();
        vm.Vm.RegisterIrqfd(msi, MsiGsi);

        var ready = TestVm.RunGuarded(vcpu);
        var readyByte = vcpu.ExitData[0];
        msi.Write();
        var handled = TestVm.RunGuarded(vcpu);
        var handledByte = vcpu.ExitData[0];

        Assert.Equal(new VmExit(VmExitKind.IoOut, 0x3f8, 1, 1), ready);
        Assert.Equal((byte)'R', readyByte);
        Assert.Equal(new VmExit(VmExitKind.IoOut, 0x3f8, 1, 1), handled);
        Assert.Equal((byte)'M', handledByte);
        vm.Vm.UnregisterIrqfd(msi, MsiGsi);
    }

    [Fact]
    public void Kvm_should_accept_an_msi_route_to_any_address_so_guest_messages_need_filtering_before_routing()
    {
        using var vm = TestVm.Create(irqchip: true);
        var table = new List<KvmIrqRoutingEntry>(KvmIrqRouting.X86Default())
        {
            KvmIrqRoutingEntry.ForMsi(MsiGsi, 0xDEAD_BEEF_0000_1234, 0xFFFF_FFFF),
        };

        var accepted = Record.Exception(() => vm.Vm.SetGsiRouting(table.ToArray()));
        var refused = Assert.Throws<KvmException>(() =>
            vm.Vm.SetGsiRouting([.. table, new KvmIrqRoutingEntry { Gsi = MsiGsi + 1, Type = 99 }]));

        Assert.Null(accepted);
        Assert.Equal("KVM_SET_GSI_ROUTING", refused.Ioctl);
        Assert.Equal(22, refused.Errno);
    }
}
