using ActorVmm.Kvm.Memory;
using ActorVmm.Kvm.Tests.Support;
using ActorVmm.Kvm.X86;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace ActorVmm.Kvm.Tests.Guest;

/// <summary>
/// A guest saved mid-run (vCPU state, VM state, sparse memory image) and restored into a new VM from a fresh
/// /dev/kvm carries on where it stopped.
/// </summary>
[Trait("Category", "Kvm")]
public sealed class SnapshotRestoreGuestTests(ITestOutputHelper output) : IDisposable
{
    private const ulong CodeAddress = 0x1000;
    private const ulong CounterAddress = 0x3000;
    private const ulong SumAddress = 0x3008;
    private const ushort Port = 0x510;
    private const int StepsBeforeSnapshot = 5;

    private readonly string _image = Path.Combine(Path.GetTempPath(), $"actorvmm-snapshot-{Guid.NewGuid():N}.mem");

    public void Dispose() => File.Delete(_image);

    /// <summary>
    /// Each step: RBX += 1, XMM1 += RBX (so the FPU/XSAVE state matters), both stored to memory, then an OUT that
    /// exits with the low byte of the counter.
    /// </summary>
    private static void CountingProgram(Iced.Intel.Assembler a)
    {
        var loop = a.CreateLabel();
        a.mov(dx, Port);
        a.Label(ref loop);
        a.inc(rbx);
        a.movq(xmm0, rbx);
        a.paddq(xmm1, xmm0);
        a.mov(__qword_ptr[CounterAddress], rbx);
        a.movq(__qword_ptr[SumAddress], xmm1);
        a.mov(al, bl);
        a.@out(dx, al);
        a.jmp(loop);
    }

    [Fact]
    public void Restored_guest_should_continue_counting_where_the_snapshot_was_taken()
    {
        VcpuState vcpuState;
        VmKvmState vmState;
        ulong imageBytes;
        using (var vm = TestVm.Create(irqchip: true))
        {
            vm.Vm.CreatePit2();
            vm.Load(64, CodeAddress, CountingProgram);
            var vcpu = vm.CreateVcpu(0);
            vcpu.BindToCurrentThread();
            vm.EnterLongMode(vcpu, CodeAddress);
            X86Fpu.Apply(vcpu);
            var lapic = vcpu.GetLapic();
            X86Lapic.ConfigureLint(ref lapic);
            vcpu.SetLapic(lapic);

            for (var i = 1; i <= StepsBeforeSnapshot; i++)
            {
                Assert.Equal(new VmExit(VmExitKind.IoOut, Port, 1, 1), TestVm.RunGuarded(vcpu));
                Assert.Equal((byte)i, vcpu.ExitData[0]);
            }

            // The OUT is finished (RIP past it) before the state is read.
            vcpu.CompletePendingExit();
            var msrIndices = SnapshotMsrs.Select(vm.Kvm.GetMsrIndexList());
            vcpuState = RoundTrip(vcpu.SaveState(msrIndices));
            vmState = RoundTrip(vm.Vm.SaveState());
            (imageBytes, _) = vm.Memory.WriteSparseImage(_image);
            output.WriteLine($"KVM reports {msrIndices.Length} MSRs, {vcpuState.Msrs.Length} readable; XSAVE {vcpuState.Xsave.Length} bytes; "
                + $"TSC {vcpuState.TscKhz} kHz; image {imageBytes} of {TestVm.MemorySize} bytes written");
            vcpu.UnbindFromCurrentThread();
        }

        Assert.Equal((ulong)StepsBeforeSnapshot, vcpuState.Regs.Rbx);
        Assert.Contains(vcpuState.Msrs, m => m.Index == X86Msrs.Ia32Tsc);
        Assert.True(vcpuState.Xsave.Length >= 4096);
        Assert.True(imageBytes < TestVm.MemorySize, $"{imageBytes} bytes written for {TestVm.MemorySize} bytes of RAM");

        using var kvm = KvmSystem.Open();
        using var vm2 = kvm.CreateVm();
        vm2.SetIdentityMapAddress(0xfffb_c000);
        vm2.SetTssAddress(0xfffb_d000);
        vm2.CreateIrqchip();
        vm2.CreatePit2();
        using var memory = GuestMemory.MapFile([(GuestAddress.Zero, TestVm.MemorySize)], _image);
        vm2.MapMemory(memory);
        vm2.RestoreState(vmState);
        using var restored = vm2.CreateVcpu(0);
        restored.SetCpuid2(X86Cpuid.ForVcpu(kvm.GetSupportedCpuid(), 0, 1));
        restored.RestoreState(vcpuState);
        restored.BindToCurrentThread();
        try
        {
            Assert.Equal((ulong)StepsBeforeSnapshot, memory.Read<ulong>(new GuestAddress(CounterAddress)));

            var exit = TestVm.RunGuarded(restored);
            var counter = restored.ExitData[0];
            var regs = restored.GetRegs();

            Assert.Equal(new VmExit(VmExitKind.IoOut, Port, 1, 1), exit);
            Assert.Equal(StepsBeforeSnapshot + 1, counter);
            Assert.Equal(StepsBeforeSnapshot + 1UL, regs.Rbx);
            Assert.Equal(StepsBeforeSnapshot + 1UL, memory.Read<ulong>(new GuestAddress(CounterAddress)));
            Assert.Equal(21UL, memory.Read<ulong>(new GuestAddress(SumAddress))); // 1 + ... + 6: XMM1 came back
            Assert.True(vm2.GetClock().Clock >= vmState.Clock.Clock, "the kvmclock went back behind the snapshot");
        }
        finally
        {
            restored.UnbindFromCurrentThread();
        }

        // The guest's writes went to its private copy: the image still holds the snapshot.
        using var image = File.OpenHandle(_image);
        var saved = new byte[8];
        RandomAccess.Read(image, saved, (long)CounterAddress);
        Assert.Equal((ulong)StepsBeforeSnapshot, BitConverter.ToUInt64(saved));
    }

    private static VcpuState RoundTrip(VcpuState state)
    {
        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            VcpuStateCodec.Write(w, state);
        }

        stream.Position = 0;
        using var r = new BinaryReader(stream);
        return VcpuStateCodec.Read(r);
    }

    private static VmKvmState RoundTrip(VmKvmState state)
    {
        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            VmKvmStateCodec.Write(w, state);
        }

        stream.Position = 0;
        using var r = new BinaryReader(stream);
        return VmKvmStateCodec.Read(r);
    }
}
