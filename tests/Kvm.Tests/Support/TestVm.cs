using ActorVmm.Kvm.Interop;
using ActorVmm.Kvm.Memory;
using ActorVmm.Kvm.X86;
using Iced.Intel;

namespace ActorVmm.Kvm.Tests.Support;

/// <summary>
/// A small VM for guest-program tests: 2 MiB of RAM at 0, optional in-kernel irqchip, helpers to assemble code
/// with Iced and to put a vCPU in real mode or in 64-bit long mode (identity-mapped 1 GiB, flat GDT).
/// Opening /dev/kvm is not caught: without KVM the tests fail with <see cref="KvmUnavailableException"/>.
/// </summary>
internal sealed class TestVm : IDisposable
{
    public const ulong MemorySize = 2 * 1024 * 1024;

    /// <summary>An address with no memory slot: accesses exit as MMIO.</summary>
    public const ulong MmioAddress = 0x1000_0000;

    /// <summary>How long a guest may take before the watchdog kicks it (only to turn a hang into a failure).</summary>
    public static readonly TimeSpan Watchdog = TimeSpan.FromSeconds(120);

    private const ulong Pml4Address = 0x9000;
    private const ulong PdptAddress = 0xA000;
    private const ulong PdAddress = 0xB000;
    private const ulong GdtAddress = 0x500;

    private readonly List<Vcpu> _vcpus = [];

    private TestVm(KvmSystem kvm, KvmVm vm, GuestMemory memory)
    {
        Kvm = kvm;
        Vm = vm;
        Memory = memory;
    }

    public KvmSystem Kvm { get; }

    public KvmVm Vm { get; }

    public GuestMemory Memory { get; }

    public static TestVm Create(bool irqchip = false)
    {
        var kvm = KvmSystem.Open();
        KvmVm? vm = null;
        GuestMemory? memory = null;
        try
        {
            vm = kvm.CreateVm();
            vm.SetIdentityMapAddress(0xfffb_c000);
            vm.SetTssAddress(0xfffb_d000);
            if (irqchip)
            {
                vm.CreateIrqchip();
            }

            memory = GuestMemory.Create([(GuestAddress.Zero, MemorySize)]);
            vm.MapMemory(memory);
            return new TestVm(kvm, vm, memory);
        }
        catch
        {
            memory?.Dispose();
            vm?.Dispose();
            kvm.Dispose();
            throw;
        }
    }

    public Vcpu CreateVcpu(int id)
    {
        var vcpu = Vm.CreateVcpu(id);
        _vcpus.Add(vcpu);
        return vcpu;
    }

    /// <summary>Assembles <paramref name="program"/> for <paramref name="bitness"/>-bit mode at <paramref name="address"/> and loads it there.</summary>
    public void Load(int bitness, ulong address, Action<Assembler> program)
    {
        var asm = new Assembler(bitness);
        program(asm);
        using var stream = new MemoryStream();
        asm.Assemble(new StreamCodeWriter(stream), address);
        Memory.Write(new GuestAddress(address), stream.ToArray());
    }

    /// <summary>Real mode, CS = DS = SS = 0, IP = <paramref name="entry"/>, SP = 0x7000, interrupts off.</summary>
    public static void EnterRealMode(Vcpu vcpu, ulong entry)
    {
        var sregs = vcpu.GetSregs();
        foreach (ref var seg in SegmentRefs(ref sregs))
        {
            seg.Base = 0;
            seg.Selector = 0;
        }

        vcpu.SetSregs(sregs);
        vcpu.SetRegs(new KvmRegs { Rip = entry, Rsp = 0x7000, Rflags = 0x2 });
    }

    /// <summary>64-bit long mode with paging (1 GiB identity map in 2 MiB pages), flat GDT, RIP = <paramref name="entry"/>.</summary>
    public void EnterLongMode(Vcpu vcpu, ulong entry, int vcpuCount = 1)
    {
        // KVM refuses EFER.LME unless the guest's CPUID has long mode.
        vcpu.SetCpuid2(X86Cpuid.ForVcpu(Kvm.GetSupportedCpuid(), vcpu.Id, vcpuCount));

        Memory.Write(new GuestAddress(Pml4Address), PdptAddress | 0x3);
        Memory.Write(new GuestAddress(PdptAddress), PdAddress | 0x3);
        for (ulong i = 0; i < 512; i++)
        {
            Memory.Write(new GuestAddress(PdAddress + (i * 8)), (i << 21) | 0x83); // present, writable, 2 MiB page
        }

        Memory.Write(new GuestAddress(GdtAddress), 0UL);
        Memory.Write(new GuestAddress(GdtAddress + 8), 0x00af_9b00_0000_ffffUL); // 64-bit code
        Memory.Write(new GuestAddress(GdtAddress + 16), 0x00cf_9300_0000_ffffUL); // data

        var code = new KvmSegment { Base = 0, Limit = 0xffff_ffff, Selector = 0x8, Type = 0xb, Present = 1, S = 1, L = 1, G = 1 };
        var data = new KvmSegment { Base = 0, Limit = 0xffff_ffff, Selector = 0x10, Type = 0x3, Present = 1, S = 1, Db = 1, G = 1 };
        var sregs = vcpu.GetSregs();
        sregs.Cs = code;
        sregs.Ds = data;
        sregs.Es = data;
        sregs.Fs = data;
        sregs.Gs = data;
        sregs.Ss = data;
        sregs.Gdt = new KvmDtable { Base = GdtAddress, Limit = 23 };
        sregs.Cr3 = Pml4Address;
        sregs.Cr4 = 0x220; // PAE | OSFXSR
        sregs.Cr0 = 0x8000_0011; // PG | ET | PE
        sregs.Efer = 0x500; // LMA | LME
        vcpu.SetSregs(sregs);
        vcpu.SetRegs(new KvmRegs { Rip = entry, Rsp = 0x8000, Rflags = 0x2 });
    }

    /// <summary>Runs until the next exit; a watchdog kicks the vCPU if the guest never exits, so a bug fails instead of hanging.</summary>
    public static VmExit RunGuarded(Vcpu vcpu)
    {
        using var watchdog = new Timer(_ => vcpu.Kick(), null, Watchdog, Timeout.InfiniteTimeSpan);
        return vcpu.Run();
    }

    public void Dispose()
    {
        foreach (var vcpu in _vcpus)
        {
            vcpu.Dispose();
        }

        Vm.Dispose();
        Memory.Dispose();
        Kvm.Dispose();
    }

    private static Span<KvmSegment> SegmentRefs(ref KvmSregs sregs) =>
        System.Runtime.InteropServices.MemoryMarshal.CreateSpan(ref sregs.Cs, 6);
}
