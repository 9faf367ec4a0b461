using ActorVmm.Actors;
using ActorVmm.Actors.Bus;
using ActorVmm.Actors.Endpoints;
using ActorVmm.Actors.Irq;
using ActorVmm.Actors.Settings;
using ActorVmm.Actors.Vm;
using ActorVmm.Devices;
using ActorVmm.Host.Settings;
using ActorVmm.Kvm;
using ActorVmm.TestSupport.Fakes;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Xunit;

namespace ActorVmm.Actors.Tests.Vm;

public class VmActorSpec : TestKit
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(20);

    private static SupervisionSettings Supervision(int maxRestarts = 10, SupervisionAction fallback = SupervisionAction.Restart) =>
        new(maxRestarts, TimeSpan.FromMinutes(1), RestartStateSource.Saved, BudgetExceededPolicy.StopVm,
            new Dictionary<string, SupervisionAction> { ["default"] = fallback });

    private static VmBlueprint Blueprint(string name, IReadOnlyList<IVcpu> vcpus, IReadOnlyList<DeviceBlueprint> devices, IDisposable? resources = null, SupervisionSettings? supervision = null, IIrqChipBackend? irq = null) =>
        new(name, vcpus, devices, irq ?? new InMemoryIrqChip(), new DeviceSettings(TimeSpan.FromSeconds(30)), supervision ?? Supervision(), Resources: resources);

    private VmProtocol.Status Status(VmHandle vm) => vm.Actor.Ask<VmProtocol.Status>(VmProtocol.GetStatus.Instance, Generous).Result;

    // The VM runs once its device supervisor started; each device instance is built a little later, on its own actor.
    private void AwaitRunning(VmHandle vm) =>
        AwaitCondition(() => Status(vm) is { State: VmState.Running } s && s.Devices.All(d => d.State == DeviceRunState.Running), Generous, TimeSpan.FromMilliseconds(10));

    [Fact]
    public async Task Two_VMs_in_one_system_should_share_nothing_and_stop_independently()
    {
        var postA = new RecordingDevice("post");
        var postB = new RecordingDevice("post");
        var vcpuA = new ScriptedVcpu(0).Then(new VmExit(VmExitKind.IoOut, 0x80, 1), [0xa]);
        var vcpuB = new ScriptedVcpu(0).Then(new VmExit(VmExitKind.IoOut, 0x80, 1), [0xb]);
        var resA = new DisposeProbe();
        var resB = new DisposeProbe();
        var a = VmActor.Spawn(Sys, Blueprint("a", [vcpuA], [new DeviceBlueprint("post", _ => postA, [BusRange.Pio(0x80, 1)])], resA));
        var b = VmActor.Spawn(Sys, Blueprint("b", [vcpuB], [new DeviceBlueprint("post", _ => postB, [BusRange.Pio(0x80, 1)])], resB));
        Assert.True(vcpuA.Idle.Wait(Generous));
        Assert.True(vcpuB.Idle.Wait(Generous));

        // A write the vCPU posted while the device actor was still installing its device is fire and forget: wait
        // until both ran before stopping a (under load the stop overtook it once and a's write was dropped).
        AwaitCondition(() => postA.Log.Count > 0 && postB.Log.Count > 0, Generous, TimeSpan.FromMilliseconds(10));
        a.RequestStop("test");
        var reasonA = await a.Stopped.WaitAsync(Generous);

        Assert.Equal(VmStopReasonKind.HostRequest, reasonA.Kind);
        Assert.Equal(1, resA.Disposed);
        Assert.Equal(0, resB.Disposed);
        Assert.Equal([('W', 0UL, 0xaUL)], postA.Log);
        Assert.Equal([('W', 0UL, 0xbUL)], postB.Log);
        Assert.Equal(VmState.Running, Status(b).State);
        Assert.False(b.Stopped.IsCompleted);

        b.RequestStop();
        Assert.Equal(VmStopReasonKind.HostRequest, (await b.Stopped.WaitAsync(Generous)).Kind);
        Assert.Equal(1, resB.Disposed);
    }

    [Fact]
    public async Task A_guest_poweroff_should_stop_the_VM_and_dispose_its_resources_after_the_vcpu_threads()
    {
        var vcpu0 = new ScriptedVcpu(0);
        var vcpu1 = new ScriptedVcpu(1);
        var disposedWhileRunning = true;
        var resources = new CallbackDisposable(() => disposedWhileRunning = vcpu0.InRun || vcpu1.InRun);
        var vm = VmActor.Spawn(Sys, Blueprint("poweroff", [vcpu0, vcpu1], [], resources));
        var watcher = CreateTestProbe();
        vm.Actor.Tell(VmProtocol.WatchStop.Instance, watcher);
        Assert.True(vcpu1.Idle.Wait(Generous));

        vcpu0.Then(new VmExit(VmExitKind.SystemEvent, Detail: 1));

        var reason = await vm.Stopped.WaitAsync(Generous);
        Assert.Equal(VmStopReasonKind.PowerOff, reason.Kind);
        Assert.Equal(0, reason.ExitCode);
        Assert.False(disposedWhileRunning);
        Assert.Equal(reason, watcher.ExpectMsg<VmProtocol.Stopped>(Generous).Reason);
        Watch(vm.Actor);
        ExpectTerminated(vm.Actor, Generous);
    }

    [Fact]
    public async Task A_device_beyond_its_restart_budget_should_stop_the_VM_with_DeviceFailure()
    {
        var vcpu = new ScriptedVcpu(0);
        var vm = VmActor.Spawn(Sys, Blueprint("budget", [vcpu], [new DeviceBlueprint("disk0", _ => new CounterDevice("disk0"), [BusRange.Mmio(0xd000_0000, 0x100)])], supervision: Supervision(maxRestarts: 2)));
        AwaitRunning(vm);
        var status = Status(vm);
        var disk = status.Devices.Single();

        for (var i = 1; i <= 2; i++)
        {
            status.Bus.Write(BusSpace.Mmio, 0xd000_0000, [CounterDevice.Crash]);
            var restarts = i;
            AwaitCondition(() => disk.Restarts == restarts, Generous);
        }

        status.Bus.Write(BusSpace.Mmio, 0xd000_0000, [CounterDevice.Crash]);

        var reason = await vm.Stopped.WaitAsync(Generous);
        Assert.Equal(VmStopReasonKind.DeviceFailure, reason.Kind);
        Assert.StartsWith("disk0 failed 3 times within 1m: InvalidOperationException", reason.Message);
        Assert.Equal(6, reason.ExitCode);
    }

    [Fact]
    public async Task An_escalating_device_should_stop_the_VM_with_DeviceFailure()
    {
        var vm = VmActor.Spawn(Sys, Blueprint("escalate", [], [new DeviceBlueprint("net0", _ => new CounterDevice("net0"), [BusRange.Pio(0x100, 4)])], supervision: Supervision(fallback: SupervisionAction.Escalate)));
        AwaitRunning(vm);

        Status(vm).Bus.Write(BusSpace.Pio, 0x100, [CounterDevice.Crash]);

        var reason = await vm.Stopped.WaitAsync(Generous);
        Assert.Equal(VmStopReasonKind.DeviceFailure, reason.Kind);
        Assert.Contains("net0", reason.Message);
    }

    [Fact]
    public async Task A_device_should_be_able_to_reset_the_VM_through_its_context()
    {
        var vcpu = new ScriptedVcpu(0).Then(new VmExit(VmExitKind.IoOut, 0x64, 1), [0xfe]);
        var vm = VmActor.Spawn(Sys, Blueprint("reset", [vcpu], [new DeviceBlueprint("i8042", ctx => new ResetDevice(ctx), [BusRange.Pio(0x60, 5)])]));

        var reason = await vm.Stopped.WaitAsync(Generous);

        Assert.Equal(VmStopReasonKind.Reset, reason.Kind);
        Assert.Contains("i8042", reason.Message);
    }

    [Fact]
    public async Task Devices_should_get_their_interrupt_lines_and_interrupts_should_be_counted_per_GSI()
    {
        var chip = new InMemoryIrqChip();
        IInterruptLine? serialLine = null;
        var vm = VmActor.Spawn(Sys, Blueprint(
            "irq",
            [],
            [
                new DeviceBlueprint("serial0", ctx => { serialLine = ctx.Interrupt; return new ConstantDevice("serial0", 0); }, [BusRange.Pio(0x3f8, 8)], IrqRequest.Edge(4)),
                new DeviceBlueprint("rtc", ctx => { Assert.Null(ctx.Interrupt); return new ConstantDevice("rtc", 0); }, [BusRange.Pio(0x70, 2)]),
            ],
            irq: chip));
        AwaitRunning(vm);

        serialLine!.Trigger();
        serialLine.Trigger();

        Assert.Equal(2, chip.Delivered(4));
        Assert.Equal(2, Status(vm).Irq!.Raised(4));
        vm.RequestStop();
        await vm.Stopped.WaitAsync(Generous);
        Assert.True(chip.IsDisposed(4));
        serialLine.Trigger();
        Assert.Equal(2, chip.Delivered(4));
    }

    [Fact]
    public void Overlapping_devices_should_be_rejected_before_the_VM_starts()
    {
        var error = Assert.Throws<BusConflictException>(() => VmActor.Spawn(Sys, Blueprint(
            "overlap",
            [],
            [
                new DeviceBlueprint("serial0", _ => new ConstantDevice("serial0", 0), [BusRange.Pio(0x3f8, 8)]),
                new DeviceBlueprint("serial1", _ => new ConstantDevice("serial1", 0), [BusRange.Pio(0x3fc, 8)]),
            ])));

        Assert.Contains("serial0", error.Message);
        Assert.Contains("serial1", error.Message);
    }

    [Fact]
    public async Task A_device_that_cannot_be_built_should_stop_the_VM_with_DeviceFailure()
    {
        var vm = VmActor.Spawn(Sys, Blueprint("broken", [new ScriptedVcpu(0)], [new DeviceBlueprint("disk0", _ => throw new FileNotFoundException("disk.img"), [BusRange.Mmio(0x1000, 0x100)])]));

        var reason = await vm.Stopped.WaitAsync(Generous);

        Assert.Equal(VmStopReasonKind.DeviceFailure, reason.Kind);
        Assert.True(reason.Message.Contains("disk.img"), reason.Message);
    }

    private sealed class ResetDevice(DeviceContext context) : IBusDevice
    {
        public string Name => context.Name;

        public void Read(ulong offset, Span<byte> data) => data.Fill(0);

        public void Write(ulong offset, ReadOnlySpan<byte> data)
        {
            if (offset == 4 && data[0] == 0xfe)
            {
                context.Vm.RequestStop(new VmStopReason(VmStopReasonKind.Reset, $"{Name}: CPU reset (0xfe)"));
            }
        }
    }

    private sealed class CallbackDisposable(Action onDispose) : IDisposable
    {
        public void Dispose() => onDispose();
    }
}
