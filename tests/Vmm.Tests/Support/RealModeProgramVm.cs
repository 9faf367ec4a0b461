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

    /// <summary>Where vCPU i's program starts: <see cref="Entry"/> + i * 0x1000 (each program gets one page).</summary>
    public const ulong ProgramStride = 0x1000;

    private RealModeProgramVm(KvmSystem kvm, KvmVm vm, GuestMemory memory, IReadOnlyList<Vcpu> vcpus)
    {
        Kvm = kvm;
        Vm = vm;
        Memory = memory;
        Vcpus = vcpus;
    }

    public KvmSystem Kvm { get; }

    public KvmVm Vm { get; }

    public GuestMemory Memory { get; }

    /// <summary>The first (or only) vCPU.</summary>
    public Vcpu Vcpu => Vcpus[0];

    /// <summary>One vCPU per program, each in real mode at its own program with its own stack.</summary>
    public IReadOnlyList<Vcpu> Vcpus { get; }

    public static RealModeProgramVm Create(Action<Assembler> program) => Create([program]);

    /// <summary>A VM with one vCPU per program (no irqchip: every vCPU runs at once, no INIT/SIPI needed).</summary>
    public static RealModeProgramVm Create(IReadOnlyList<Action<Assembler>> programs)
    {
        var kvm = KvmSystem.Open();
        KvmVm? vm = null;
        GuestMemory? memory = null;
        var vcpus = new List<Vcpu>();
        try
        {
            vm = kvm.CreateVm();
            vm.SetIdentityMapAddress(0xfffb_c000);
            vm.SetTssAddress(0xfffb_d000);
            memory = GuestMemory.Create([(GuestAddress.Zero, RamSize)]);
            vm.MapMemory(memory);

            for (var i = 0; i < programs.Count; i++)
            {
                var entry = Entry + ((ulong)i * ProgramStride);
                var asm = new Assembler(16);
                programs[i](asm);
                using var code = new MemoryStream();
                asm.Assemble(new StreamCodeWriter(code), entry);
                if ((ulong)code.Length > ProgramStride)
                {
                    throw new ArgumentException($"program {i} is {code.Length} bytes, more than one page");
                }

                memory.Write(new GuestAddress(entry), code.ToArray());

                var vcpu = vm.CreateVcpu(i);
                vcpus.Add(vcpu);
                var sregs = vcpu.GetSregs();
                foreach (ref var segment in System.Runtime.InteropServices.MemoryMarshal.CreateSpan(ref sregs.Cs, 6))
                {
                    segment.Base = 0;
                    segment.Selector = 0;
                }

                vcpu.SetSregs(sregs);
                vcpu.SetRegs(new KvmRegs { Rip = entry, Rsp = 0x7000 - ((ulong)i * 0x400), Rflags = 0x2 });
            }

            return new RealModeProgramVm(kvm, vm, memory, vcpus);
        }
        catch
        {
            vcpus.ForEach(v => v.Dispose());
            memory?.Dispose();
            vm?.Dispose();
            kvm.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        foreach (var vcpu in Vcpus)
        {
            vcpu.Dispose();
        }

        Vm.Dispose();
        Memory.Dispose();
        Kvm.Dispose();
    }
}
