using ActorVmm.Kvm.Tests.Support;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace ActorVmm.Kvm.Tests.Guest;

[Trait("Category", "Kvm")]
public class KickGuestTests
{
    private const ulong LoopAddress = 0x1004;

    private static void LoadReadyThenSpin(TestVm vm) => vm.Load(16, 0x1000, a =>
    {
        var spin = a.CreateLabel();
        a.mov(dx, 0x3f8); // 3 bytes
        a.@out(dx, al); // 1 byte: "ready"
        a.Label(ref spin);
        a.jmp(spin); // jmp $ at 0x1004
    });

    [Fact]
    public void Kick_from_another_thread_should_bring_a_busy_looping_vcpu_out_with_Interrupted()
    {
        using var vm = TestVm.Create();
        LoadReadyThenSpin(vm);
        var vcpu = vm.CreateVcpu(0);
        var results = new List<VmExit>();
        Exception? error = null;
        using var spinning = new ManualResetEventSlim();
        var thread = new Thread(() =>
        {
            try
            {
                vcpu.BindToCurrentThread();
                TestVm.EnterRealMode(vcpu, 0x1000);
                results.Add(vcpu.Run()); // the "ready" out
                spinning.Set();
                results.Add(vcpu.Run()); // spins until kicked
                results.Add(new VmExit(VmExitKind.Unknown, vcpu.GetRegs().Rip));
            }
            catch (Exception e)
            {
                error = e;
            }
        })
        { IsBackground = true };
        thread.Start();

        Assert.True(spinning.Wait(TestVm.Watchdog, TestContext.Current.CancellationToken), "the guest never reached its loop");
        Thread.Sleep(200); // let it enter the guest; the kick must work either way
        vcpu.Kick();

        Assert.True(thread.Join(TestVm.Watchdog), "Kick did not interrupt KVM_RUN");
        Assert.Null(error);
        Assert.Equal(VmExitKind.IoOut, results[0].Kind);
        Assert.Equal(VmExitKind.Interrupted, results[1].Kind);
        Assert.Equal(LoopAddress, results[2].Address);
    }

    [Fact]
    public void Every_kick_should_produce_an_Interrupted_return_none_lost()
    {
        const int kicks = 20;
        using var vm = TestVm.Create();
        LoadReadyThenSpin(vm);
        var vcpu = vm.CreateVcpu(0);
        using var interrupted = new SemaphoreSlim(0);
        using var stop = new ManualResetEventSlim();
        using var ready = new ManualResetEventSlim();
        var others = new List<VmExit>();
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                vcpu.BindToCurrentThread();
                TestVm.EnterRealMode(vcpu, 0x1000);
                while (!stop.IsSet)
                {
                    var exit = vcpu.Run();
                    if (exit.Kind == VmExitKind.Interrupted)
                    {
                        interrupted.Release();
                    }
                    else
                    {
                        others.Add(exit);
                        ready.Set();
                    }
                }
            }
            catch (Exception e)
            {
                error = e;
                interrupted.Release(kicks);
                ready.Set();
            }
        })
        { IsBackground = true };
        thread.Start();
        // Kick the spinning guest, not one that has not run yet (on a single CPU the kicks could all come first).
        Assert.True(ready.Wait(TestVm.Watchdog, TestContext.Current.CancellationToken), "the guest never said it was ready");

        var acknowledged = 0;
        for (var i = 0; i < kicks; i++)
        {
            vcpu.Kick();
            if (interrupted.Wait(TestVm.Watchdog, TestContext.Current.CancellationToken))
            {
                acknowledged++;
            }
        }

        stop.Set();
        vcpu.Kick();

        Assert.True(thread.Join(TestVm.Watchdog), "the vCPU thread got stuck");
        Assert.Null(error);
        Assert.Equal(kicks, acknowledged);
        Assert.Equal([VmExitKind.IoOut], others.Select(e => e.Kind));
    }

    [Fact]
    public void Kick_before_Run_should_make_the_next_Run_return_Interrupted_and_only_that_one()
    {
        using var vm = TestVm.Create();
        vm.Load(16, 0x1000, a => a.hlt());
        var vcpu = vm.CreateVcpu(0);
        vcpu.BindToCurrentThread();
        TestVm.EnterRealMode(vcpu, 0x1000);

        vcpu.Kick();
        var first = TestVm.RunGuarded(vcpu);
        var second = TestVm.RunGuarded(vcpu);

        Assert.Equal(VmExitKind.Interrupted, first.Kind);
        Assert.False(vcpu.ImmediateExit);
        Assert.Equal(VmExitKind.Hlt, second.Kind);
    }

    [Fact]
    public void Run_on_a_thread_other_than_the_bound_one_should_be_refused()
    {
        using var vm = TestVm.Create();
        var vcpu = vm.CreateVcpu(0);

        Assert.Throws<InvalidOperationException>(() => vcpu.Run());
    }
}
