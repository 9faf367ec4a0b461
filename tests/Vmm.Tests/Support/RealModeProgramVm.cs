using ActorVmm.Kvm;
using ActorVmm.Kvm.Interop;
using ActorVmm.Kvm.Memory;
using Iced.Intel;

namespace ActorVmm.Vmm.Tests.Support;

/// <summary>
/// A one-vCPU VM built by hand for guest-program tests: 512 KiB of RAM at 0 (every address above it exits as MMIO),
/// no in-kernel irqchip (so HLT exits to userspace), and a 16-bit program assembled with Iced at
/// <see cref="Entry"/>, with the vCPU in real mode at it (CS = DS = SS = 0, SP = 0x7000, interrupts off).
/// Opening /dev/kvm is not caught: without KVM the tests fail.
/// </summary>
public sealed class RealModeProgramVm : IDisposable
{
    public const ulong RamSize = 0x8_0000;
    public const ulong Entry = 0x1000;

    private RealModeProgramVm(KvmSystem kvm, VirtualMachine vm, GuestMemory memory, Vcpu vcpu)
    {
        Kvm = kvm;
        Vm = vm;
        Memory = memory;
        Vcpu = vcpu;
    }

    public KvmSystem Kvm { get; }

    public VirtualMachine Vm { get; }

    public GuestMemory Memory { get; }

    public Vcpu Vcpu { get; }

    public static RealModeProgramVm Create(Action<Assembler> program)
    {
        var kvm = KvmSystem.Open();
        VirtualMachine? vm = null;
        GuestMemory? memory = null;
        Vcpu? vcpu = null;
        try
        {
            vm = kvm.CreateVm();
            vm.SetIdentityMapAddress(0xfffb_c000);
            vm.SetTssAddress(0xfffb_d000);
            memory = GuestMemory.Create([(GuestAddress.Zero, RamSize)]);
            vm.MapMemory(memory);

            var asm = new Assembler(16);
            program(asm);
            using var code = new MemoryStream();
            asm.Assemble(new StreamCodeWriter(code), Entry);
            memory.Write(new GuestAddress(Entry), code.ToArray());

            vcpu = vm.CreateVcpu(0);
            var sregs = vcpu.GetSregs();
            foreach (ref var segment in System.Runtime.InteropServices.MemoryMarshal.CreateSpan(ref sregs.Cs, 6))
            {
                segment.Base = 0;
                segment.Selector = 0;
            }

            vcpu.SetSregs(sregs);
            vcpu.SetRegs(new KvmRegs { Rip = Entry, Rsp = 0x7000, Rflags = 0x2 });
            return new RealModeProgramVm(kvm, vm, memory, vcpu);
        }
        catch
        {
            vcpu?.Dispose();
            memory?.Dispose();
            vm?.Dispose();
            kvm.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        Vcpu.Dispose();
        Vm.Dispose();
        Memory.Dispose();
        Kvm.Dispose();
    }
}
