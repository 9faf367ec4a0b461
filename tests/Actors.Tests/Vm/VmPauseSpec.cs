using ActorVmm.Actors.Bus;
using ActorVmm.Actors.Endpoints;
using ActorVmm.Actors.Irq;
using ActorVmm.Actors.Settings;
using ActorVmm.Actors.Vcpu;
using ActorVmm.Actors.Vm;
using ActorVmm.Devices;
using ActorVmm.Host.Settings;
using ActorVmm.Kvm;
using ActorVmm.TestSupport.Fakes;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Xunit;

namespace ActorVmm.Actors.Tests.Vm;

public class VmPauseSpec : TestKit
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(20);

    private static VmBlueprint Blueprint(string name, IReadOnlyList<IVcpu> vcpus, IReadOnlyList<DeviceBlueprint> devices, IDisposable? resources = null) =>
        new(name, vcpus, devices, new InMemoryIrqChip(), new DeviceSettings(TimeSpan.FromSeconds(30)),
            new SupervisionSettings(10, TimeSpan.FromMinutes(1), RestartStateSource.Saved, BudgetExceededPolicy.StopVm,
                new Dictionary<string, SupervisionAction> { ["default"] = SupervisionAction.Restart }),
            Resources: resources);

    private VmProtocol.Status Status(VmHandle vm) => vm.Actor.Ask<VmProtocol.Status>(VmProtocol.GetStatus.Instance, Generous).Result;

    private void AwaitRunning(VmHandle vm) =>
        AwaitCondition(() => Status(vm) is { State: VmState.Running } s && s.Devices.All(d => d.State == DeviceRunState.Running), Generous, TimeSpan.FromMilliseconds(10));

    [Fact]
    public async Task Pause_should_park_every_vcpu_and_resume_should_let_them_run_on()
    {
        var post = new RecordingDevice("post");
        var vcpu0 = new ScriptedVcpu(0);
        var vcpu1 = new ScriptedVcpu(1);
        var vm = VmActor.Spawn(Sys, Blueprint("pause", [vcpu0, vcpu1], [new DeviceBlueprint("post", _ => post, [BusRange.Pio(0x80, 1)])]));
        AwaitRunning(vm);
        Assert.True(vcpu0.Idle.Wait(Generous));
        Assert.True(vcpu1.Idle.Wait(Generous));

        await vm.PauseAsync(Generous);

        Assert.Equal(VmState.Paused, Status(vm).State);
        Assert.False(vcpu0.InRun);
        Assert.False(vcpu1.InRun);
        vcpu0.Then(new VmExit(VmExitKind.IoOut, 0x80, 1), [0x11]);
        vcpu1.Then(new VmExit(VmExitKind.IoOut, 0x80, 1), [0x22]);
        Assert.Empty(post.Log);

        await vm.ResumeAsync(Generous);

        Assert.Equal(VmState.Running, Status(vm).State);
        Assert.True(vcpu0.Idle.Wait(Generous));
        Assert.True(vcpu1.Idle.Wait(Generous));
        Assert.Equal([0x11UL, 0x22UL], post.Log.Select(l => l.Value).Order());
        vm.RequestStop();
        await vm.Stopped.WaitAsync(Generous);
    }

    [Fact]
    public async Task Pausing_a_paused_VM_and_resuming_a_running_one_should_answer_at_once()
    {
        var vm = VmActor.Spawn(Sys, Blueprint("idempotent", [new ScriptedVcpu(0)], []));
        AwaitRunning(vm);

        await vm.ResumeAsync(Generous);
        await vm.PauseAsync(Generous);
        await vm.PauseAsync(Generous);

        Assert.Equal(VmState.Paused, Status(vm).State);
        await vm.ResumeAsync(Generous);
        await vm.ResumeAsync(Generous);
        Assert.Equal(VmState.Running, Status(vm).State);
        vm.RequestStop();
        await vm.Stopped.WaitAsync(Generous);
    }

    [Fact]
    public async Task Pause_of_a_VM_still_building_should_fail_naming_its_state()
    {
        using var release = new ManualResetEventSlim(false);
        var irq = new BlockingIrqChip(release);
        var vm = VmActor.Spawn(Sys, Blueprint("building", [new ScriptedVcpu(0)], [new DeviceBlueprint("serial0", _ => new ConstantDevice("serial0", 0), [BusRange.Pio(0x3f8, 8)], IrqRequest.Edge(4))]) with { Irq = irq });
        try
        {
            var failed = await vm.Actor.Ask<VmProtocol.Failed>(VmProtocol.Pause.Instance, Generous);
            Assert.Equal(VmState.Building, failed.State);
            Assert.Equal("VM building is building: cannot pause", failed.Reason);

            var error = await Assert.ThrowsAsync<VmStateException>(() => vm.ResumeAsync(Generous));
            Assert.Equal(VmState.Building, error.State);
        }
        finally
        {
            release.Set();
        }

        AwaitRunning(vm);
        vm.RequestStop();
        await vm.Stopped.WaitAsync(Generous);
        var stopped = await Assert.ThrowsAsync<VmStateException>(() => vm.PauseAsync(Generous));
        Assert.Equal(VmState.Stopped, stopped.State);
    }

    [Fact]
    public async Task Stop_while_paused_should_end_the_vcpu_threads_before_disposing_resources()
    {
        var vcpu0 = new ScriptedVcpu(0);
        var vcpu1 = new ScriptedVcpu(1);
        var disposedWhileRunning = true;
        var resources = new Disposable(() => disposedWhileRunning = vcpu0.InRun || vcpu1.InRun);
        var vm = VmActor.Spawn(Sys, Blueprint("stop-paused", [vcpu0, vcpu1], [], resources));
        AwaitRunning(vm);
        await vm.PauseAsync(Generous);

        vm.RequestStop("stopped while paused");

        var reason = await vm.Stopped.WaitAsync(Generous);
        Assert.Equal(VmStopReasonKind.HostRequest, reason.Kind);
        Assert.False(disposedWhileRunning);
    }

    [Fact]
    public async Task A_pause_should_not_wait_for_a_device_and_should_commit_the_read_it_gave_up_on()
    {
        var device = new BlockingDevice("slow");
        var vcpu = new ScriptedVcpu(0);
        var vm = VmActor.Spawn(Sys, Blueprint("pending-io", [vcpu], [new DeviceBlueprint("slow", _ => device, [BusRange.Pio(0x80, 1)], Inline: false)]));
        AwaitRunning(vm);
        vcpu.Then(new VmExit(VmExitKind.IoIn, 0x80, 1));
        Assert.True(device.Entered.Wait(Generous));

        await vm.PauseAsync(Generous);

        // The read was given up on (all-ones) and committed into the guest before the thread parked.
        Assert.Equal([[0xff]], vcpu.Committed);
        device.Release();
        await vm.ResumeAsync(Generous);
        vm.RequestStop();
        await vm.Stopped.WaitAsync(Generous);
    }

    [Fact]
    public async Task Exits_should_be_counted_per_kind_without_any_tracer()
    {
        var counters = new ExitCounters();
        var vcpu0 = new ScriptedVcpu(0)
            .Then(new VmExit(VmExitKind.IoOut, 0x80, 1), [1])
            .Then(new VmExit(VmExitKind.IoIn, 0x80, 1))
            .Then(new VmExit(VmExitKind.IoOut, 0x80, 1), [2]);
        var vcpu1 = new ScriptedVcpu(1)
            .Then(new VmExit(VmExitKind.MmioWrite, 0xd000_0000, 4), [1, 2, 3, 4])
            .Then(new VmExit(VmExitKind.MmioRead, 0xd000_0000, 4))
            .Then(new VmExit(VmExitKind.IoOut, 0x99, 1), [3]);
        var devices = new[]
        {
            new DeviceBlueprint("post", _ => new RecordingDevice("post"), [BusRange.Pio(0x80, 1)]),
            new DeviceBlueprint("mmio", _ => new RecordingDevice("mmio"), [BusRange.Mmio(0xd000_0000, 0x1000)]),
        };
        var vm = VmActor.Spawn(Sys, Blueprint("counted", [vcpu0, vcpu1], devices) with { ExitCounters = counters });
        Assert.True(vcpu0.Idle.Wait(Generous));
        Assert.True(vcpu1.Idle.Wait(Generous));

        var snapshot = counters.Snapshot();

        Assert.Equal(3, snapshot["io-out"]);
        Assert.Equal(1, snapshot["io-in"]);
        Assert.Equal(1, snapshot["mmio-write"]);
        Assert.Equal(1, snapshot["mmio-read"]);
        Assert.Equal(0, snapshot["hlt"]);
        Assert.Same(counters, Status(vm).ExitCounters);
        vm.RequestStop();
        await vm.Stopped.WaitAsync(Generous);
    }

    [Fact]
    public void Exit_kind_names_should_be_stable_lowercase_and_distinct()
    {
        var names = Enum.GetValues<VmExitKind>().Select(ExitCounters.NameOf).ToList();

        Assert.Equal(names.Count, names.Distinct().Count());
        Assert.All(names, n => Assert.Equal(n.ToLowerInvariant(), n));
        Assert.Equal(["io-in", "io-out", "mmio-read", "mmio-write", "hlt", "shutdown", "system-event", "internal-error", "fail-entry", "interrupted", "unknown"], names);
        Assert.Equal(names.Order(), new ExitCounters().Snapshot().Keys.Order());
    }

    /// <summary>Holds the VM in Building: its interrupt lines are created only once released.</summary>
    private sealed class BlockingIrqChip(ManualResetEventSlim release) : IIrqChipBackend
    {
        private readonly InMemoryIrqChip _inner = new();

        public IIrqLineBackend CreateLine(uint gsi, bool level)
        {
            release.Wait(Generous);
            return _inner.CreateLine(gsi, level);
        }
    }

    private sealed class Disposable(Action onDispose) : IDisposable
    {
        public void Dispose() => onDispose();
    }
}
