using ActorVmm.Kvm.Interop;
using ActorVmm.Kvm.Tests.Support;
using ActorVmm.Kvm.X86;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace ActorVmm.Kvm.Tests.Guest;

[Trait("Category", "Kvm")]
public class VcpuStateTests
{
    [Fact]
    public void KvmSystem_should_report_api_12_and_usable_limits()
    {
        using var kvm = KvmSystem.Open();

        Assert.Equal(12, kvm.ApiVersion);
        Assert.True(kvm.VcpuMmapSize >= 4096);
        Assert.True(kvm.MaxVcpus >= 1);
        Assert.True(kvm.CheckExtension(KvmCap.Irqfd) > 0);
        Assert.Contains(kvm.GetSupportedCpuid(), e => e.Function == 1);
        Assert.Contains(X86Msrs.Ia32SysenterCs, kvm.GetMsrIndexList());
    }

    [Fact]
    public void Boot_cpu_state_should_be_accepted_by_kvm_and_read_back()
    {
        using var vm = TestVm.Create(irqchip: true);
        var vcpu = vm.CreateVcpu(0);

        X86VcpuSetup.Configure(vcpu, vm.Kvm.GetSupportedCpuid(), CpuTopology.Flat(2), hasIrqchip: true);

        Span<KvmMsrEntry> msrs = [new(X86Msrs.MtrrDefType, 0), new(X86Msrs.Ia32SysenterCs, 123)];
        Assert.Equal(2, vcpu.GetMsrs(msrs));
        Assert.Equal(0x806UL, msrs[0].Data);
        Assert.Equal(0UL, msrs[1].Data);
        var fpu = vcpu.GetFpu();
        Assert.Equal(0x37f, fpu.Fcw);
        Assert.Equal(0x1f80u, vcpu.GetXsave().Mxcsr); // KVM_GET_FPU never reports MXCSR
        var lapic = vcpu.GetLapic();
        Assert.Equal(X86Lapic.DeliveryModeExtInt, (lapic.GetRegister(X86Lapic.RegisterLvtLint0) >> 8) & 7);
        Assert.Equal(X86Lapic.DeliveryModeNmi, (lapic.GetRegister(X86Lapic.RegisterLvtLint1) >> 8) & 7);
    }

    [Fact]
    public void Boot_mxcsr_should_be_what_the_guest_sees()
    {
        using var vm = TestVm.Create();
        vm.Load(64, 0x1000, a =>
        {
            a.stmxcsr(__dword_ptr[0x3000]);
            a.hlt();
        });
        vm.Memory.Write(new ActorVmm.Kvm.Memory.GuestAddress(0x3000), 0xffff_ffffu);
        var vcpu = vm.CreateVcpu(0);
        vcpu.BindToCurrentThread();
        vm.EnterLongMode(vcpu, 0x1000);
        X86Fpu.Apply(vcpu);

        var exit = TestVm.RunGuarded(vcpu);

        Assert.Equal(VmExitKind.Hlt, exit.Kind);
        Assert.Equal(X86Fpu.DefaultMxcsr, vm.Memory.Read<uint>(new ActorVmm.Kvm.Memory.GuestAddress(0x3000)));
    }

    [Fact]
    public void Registers_set_should_read_back()
    {
        using var vm = TestVm.Create();
        var vcpu = vm.CreateVcpu(0);

        vcpu.SetRegs(new KvmRegs { Rax = 1, R15 = 0xfeed, Rip = 0x1234, Rflags = 0x2 });
        var regs = vcpu.GetRegs();

        Assert.Equal((1UL, 0xfeedUL, 0x1234UL), (regs.Rax, regs.R15, regs.Rip));
    }

    [Fact]
    public void An_unknown_msr_should_be_refused_naming_it()
    {
        using var vm = TestVm.Create();
        var vcpu = vm.CreateVcpu(0);

        var e = Assert.Throws<KvmException>(() => vcpu.SetMsrs([new KvmMsrEntry(0xdead_beef, 1)]));

        Assert.Contains("0xdeadbeef", e.Message);
    }

    [Fact]
    public void Invalid_ioctl_arguments_should_surface_as_KvmException_naming_the_ioctl()
    {
        using var vm = TestVm.Create();

        // Slot 0 is already mapped at 0; an unaligned size is EINVAL.
        var e = Assert.Throws<KvmException>(() => vm.Vm.SetUserMemoryRegion(1, 0x10_0000_0000, 123, 0x1000));

        Assert.Equal("KVM_SET_USER_MEMORY_REGION", e.Ioctl);
        Assert.Equal(22, e.Errno);
    }

    [Fact]
    public void Gsi_routing_should_accept_irqchip_and_msi_routes_and_refuse_a_bad_pin()
    {
        using var vm = TestVm.Create(irqchip: true);
        KvmIrqRoutingEntry[] good =
        [
            KvmIrqRoutingEntry.ForIrqchip(4, KvmIrqRoutingEntry.IrqchipPicMaster, 4),
            KvmIrqRoutingEntry.ForIrqchip(4, KvmIrqRoutingEntry.IrqchipIoapic, 4),
            KvmIrqRoutingEntry.ForMsi(24, 0xfee0_0000, 0x41),
        ];
        KvmIrqRoutingEntry[] bad = [KvmIrqRoutingEntry.ForIrqchip(5, KvmIrqRoutingEntry.IrqchipIoapic, 99)];

        var accepted = Record.Exception(() => vm.Vm.SetGsiRouting(good));
        var refused = Assert.Throws<KvmException>(() => vm.Vm.SetGsiRouting(bad));

        Assert.Null(accepted);
        Assert.Equal("KVM_SET_GSI_ROUTING", refused.Ioctl);
        Assert.Equal(22, refused.Errno);
    }
}
