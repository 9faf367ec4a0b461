using ActorVmm.Actors.Endpoints;
using ActorVmm.Actors.Tracing;
using ActorVmm.Actors.Vm;
using ActorVmm.Host.Tracing;
using ActorVmm.Kvm;
using ActorVmm.TestSupport.Fakes;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Xunit;
using static ActorVmm.Actors.Tests.Tracing.TracingFixture;

namespace ActorVmm.Actors.Tests.Tracing;

public class RuntimeTracingSpec : TestKit
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(10);

    private VmProtocol.Status Status(VmHandle vm) => vm.Actor.Ask<VmProtocol.Status>(VmProtocol.GetStatus.Instance, Generous).Result;

    private VmHandle SpawnRunning(VmBlueprint blueprint)
    {
        var vm = VmActor.Spawn(Sys, blueprint, $"rt-{Guid.NewGuid():N}");
        AwaitCondition(() => Status(vm) is { State: VmState.Running } s && s.Devices.All(d => d.State == DeviceRunState.Running), Generous, Poll);
        return vm;
    }

    private static long Exits(ExitStatistics stats, string device) =>
        stats.Cells.Where(c => c.Key.Device == device).Sum(c => c.Value.Count);

    private static void Out(ScriptedVcpu vcpu, ushort port, byte value)
    {
        vcpu.Then(new VmExit(VmExitKind.IoOut, port, 1), [value]);
        Assert.True(vcpu.Idle.Wait(Generous));
    }

    [Fact]
    public async Task A_tracer_attached_to_a_running_VM_should_see_exits_interrupts_and_device_events_until_detached()
    {
        var vcpu = new ScriptedVcpu(0);
        var changes = new List<VmTracer?>();
        var vm = SpawnRunning(Blueprint([vcpu], tracer: null) with { OnTracerChanged = changes.Add });
        Out(vcpu, PostPort, 1);
        var tracer = new VmTracer(statistics: true);

        await vm.StartTracingAsync(tracer, Generous);

        Assert.Same(tracer, Status(vm).Tracer);
        Out(vcpu, PostPort, 2);
        Out(vcpu, IrqPort, 3);
        var mmio = Status(vm).Devices.Single(d => d.Name == "mmio");
        Assert.True(mmio.Crash("traced crash"));
        AwaitCondition(() => mmio.Restarts == 1 && mmio.State == DeviceRunState.Running, Generous, Poll);

        var detached = await vm.StopTracingAsync(Generous);

        Assert.Same(tracer, detached);
        Assert.Null(Status(vm).Tracer);
        Assert.Equal([tracer, null], changes);
        var stats = tracer.Statistics();
        Assert.Equal(1, Exits(stats, "post"));
        Assert.Equal(1, Exits(stats, "irqdev"));
        Assert.Equal(1, stats.Interrupts[(Gsi, "irqdev")]);
        Assert.Equal(1, stats.DeviceEvents[("mmio", "RequestedDeviceCrash")]);
        Assert.Equal(1, stats.DeviceEvents[("mmio", "restart")]);

        Out(vcpu, PostPort, 4);
        Out(vcpu, IrqPort, 5);
        Assert.True(mmio.Crash("untraced crash"));
        AwaitCondition(() => mmio.Restarts == 2 && mmio.State == DeviceRunState.Running, Generous, Poll);
        var after = tracer.Statistics();
        Assert.Equal(1, Exits(after, "post"));
        Assert.Equal(1, after.Interrupts[(Gsi, "irqdev")]);
        Assert.Equal(2, after.DeviceEvents.Values.Sum());
        Assert.Equal(5, Status(vm).ExitCounters!.Snapshot()["io-out"]);
        vm.RequestStop();
        await vm.Stopped.WaitAsync(Generous);
        await tracer.CompleteAsync();
    }

    [Fact]
    public async Task Starting_a_second_tracer_or_stopping_none_should_be_refused()
    {
        var vm = SpawnRunning(Blueprint([new ScriptedVcpu(0)], tracer: null));
        var first = new VmTracer(statistics: true);
        var second = new VmTracer(statistics: true);

        var none = await Assert.ThrowsAsync<VmStateException>(() => vm.StopTracingAsync(Generous));
        Assert.Contains("is not tracing", none.Message);
        await vm.StartTracingAsync(first, Generous);
        var twice = await Assert.ThrowsAsync<VmStateException>(() => vm.StartTracingAsync(second, Generous));
        Assert.Contains("already tracing", twice.Message);
        Assert.Equal(VmState.Running, twice.State);
        Assert.Same(first, Status(vm).Tracer);

        vm.RequestStop();
        await vm.Stopped.WaitAsync(Generous);
    }

    [Fact]
    public async Task A_tracer_given_at_spawn_should_be_detachable_and_a_new_one_attachable_while_paused()
    {
        var vcpu = new ScriptedVcpu(0);
        var atSpawn = new VmTracer(statistics: true);
        var vm = SpawnRunning(Blueprint([vcpu], atSpawn));
        Out(vcpu, PostPort, 1);

        Assert.Same(atSpawn, await vm.StopTracingAsync(Generous));
        Assert.Equal(1, Exits(atSpawn.Statistics(), "post"));
        await vm.PauseAsync(Generous);
        var later = new VmTracer(statistics: true);
        await vm.StartTracingAsync(later, Generous);
        await vm.ResumeAsync(Generous);
        Out(vcpu, PostPort, 2);
        Out(vcpu, PostPort, 3);

        vm.RequestStop();
        await vm.Stopped.WaitAsync(Generous);
        Assert.Equal(1, Exits(atSpawn.Statistics(), "post"));
        Assert.Equal(2, Exits(later.Statistics(), "post"));
    }

    [Fact]
    public async Task A_trace_file_attached_at_run_time_should_hold_the_exits_of_its_window()
    {
        var vcpu = new ScriptedVcpu(0);
        var vm = SpawnRunning(Blueprint([vcpu], tracer: null));
        Out(vcpu, PostPort, 1);
        var file = TempFile(".jsonl");
        await vm.StartTracingAsync(new VmTracer(statistics: false, JsonlTraceWriter.Create(file, "traced")), Generous);
        Out(vcpu, PostPort, 2);
        Out(vcpu, IrqPort, 3);

        var tracer = await vm.StopTracingAsync(Generous);
        await tracer.CompleteAsync().WaitAsync(Generous);

        var trace = TraceFile.Read(file);
        Assert.Equal(
            [(TraceEventKind.PioOut, 2UL), (TraceEventKind.PioOut, 3UL)],
            trace.Events.Where(e => e.Kind.IsExit() && e.Kind != TraceEventKind.Interrupted).OrderBy(e => e.TimeNs).Select(e => (e.Kind, e.Value)).ToList());
        Assert.Single(trace.Events, e => e.Kind == TraceEventKind.Interrupt);
        vm.RequestStop();
        await vm.Stopped.WaitAsync(Generous);
    }
}
