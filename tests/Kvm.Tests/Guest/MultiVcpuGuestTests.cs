using ActorVmm.Kvm.Tests.Support;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace ActorVmm.Kvm.Tests.Guest;

[Trait("Category", "Kvm")]
public class MultiVcpuGuestTests
{
    [Fact]
    public void Two_vcpus_should_run_at_once_on_their_own_threads_each_with_its_own_exits()
    {
        using var vm = TestVm.Create();
        for (var id = 0; id < 2; id++)
        {
            var port = (ushort)(0x3f8 - (0x100 * id));
            var letter = (byte)('A' + id);
            vm.Load(16, 0x1000 + (0x1000 * (ulong)id), a =>
            {
                a.mov(dx, port);
                a.mov(al, letter);
                for (var i = 0; i < 3; i++)
                {
                    a.@out(dx, al);
                    a.inc(al);
                }

                a.hlt();
            });
        }

        var vcpus = new[] { vm.CreateVcpu(0), vm.CreateVcpu(1) };
        var outputs = new List<(ushort Port, byte Value)>[2];
        var errors = new Exception?[2];
        using var bothRunning = new Barrier(2);
        var threads = Enumerable.Range(0, 2).Select(id => new Thread(() =>
        {
            try
            {
                var vcpu = vcpus[id];
                vcpu.BindToCurrentThread();
                TestVm.EnterRealMode(vcpu, 0x1000 + (0x1000 * (ulong)id));
                outputs[id] = [];
                bothRunning.SignalAndWait(TestVm.Watchdog);
                VmExit exit;
                while ((exit = TestVm.RunGuarded(vcpu)).Kind == VmExitKind.IoOut)
                {
                    outputs[id].Add((exit.Port, vcpu.ExitData[0]));
                }

                if (exit.Kind != VmExitKind.Hlt)
                {
                    throw new InvalidOperationException($"vCPU {id} stopped with {exit}");
                }
            }
            catch (Exception e)
            {
                errors[id] = e;
            }
        })
        { IsBackground = true }).ToArray();

        foreach (var t in threads)
        {
            t.Start();
        }

        foreach (var t in threads)
        {
            Assert.True(t.Join(TestVm.Watchdog * 2), "a vCPU thread never finished");
        }

        Assert.Null(errors[0]);
        Assert.Null(errors[1]);
        Assert.Equal([(0x3f8, (byte)'A'), (0x3f8, (byte)'B'), (0x3f8, (byte)'C')], outputs[0]);
        Assert.Equal([(0x2f8, (byte)'B'), (0x2f8, (byte)'C'), (0x2f8, (byte)'D')], outputs[1]);
    }
}
