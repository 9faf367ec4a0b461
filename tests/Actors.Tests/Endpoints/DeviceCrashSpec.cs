using ActorVmm.Actors.Bus;
using ActorVmm.Actors.Endpoints;
using ActorVmm.Actors.Irq;
using ActorVmm.Actors.Settings;
using ActorVmm.Actors.Vm;
using ActorVmm.Devices;
using ActorVmm.Host.Settings;
using ActorVmm.TestSupport.Fakes;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Xunit;

namespace ActorVmm.Actors.Tests.Endpoints;

public class DeviceCrashSpec : TestKit
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(10);

    private static VmBlueprint Blueprint(string name, DeviceBlueprint device, Dictionary<string, SupervisionAction> decider, int maxRestarts = 10) =>
        new(name, [new ScriptedVcpu(0)], [device], new InMemoryIrqChip(), new DeviceSettings(TimeSpan.FromSeconds(30)),
            new SupervisionSettings(maxRestarts, TimeSpan.FromMinutes(1), RestartStateSource.Saved, BudgetExceededPolicy.StopDevice, decider));

    private static Dictionary<string, SupervisionAction> Restart => new() { ["default"] = SupervisionAction.Restart };

    private DeviceEndpoint RunningDevice(VmHandle vm)
    {
        DeviceEndpoint? endpoint = null;
        AwaitCondition(
            () => vm.Actor.Ask<VmProtocol.Status>(VmProtocol.GetStatus.Instance, Generous).Result is { State: VmState.Running } s
                && (endpoint = s.Devices.Single()).State == DeviceRunState.Running,
            Generous,
            Poll);
        return endpoint!;
    }

    [Fact]
    public async Task A_requested_crash_should_go_through_the_decider_and_count_as_a_failure()
    {
        var built = 0;
        using var holdRestart = new ManualResetEventSlim(false);
        var device = new DeviceBlueprint("disk0", _ =>
        {
            if (Interlocked.Increment(ref built) == 2)
            {
                holdRestart.Wait(Generous);
            }

            return new CounterDevice("disk0");
        }, [BusRange.Mmio(0xd000_0000, 0x100)]) { Kind = "virtio-blk" };
        var vm = VmActor.Spawn(Sys, Blueprint("crash", device, Restart));
        var disk = RunningDevice(vm);
        Assert.Equal("virtio-blk", disk.Kind);

        Assert.True(disk.Crash("asked by the test"));

        AwaitCondition(() => Volatile.Read(ref built) == 2, Generous, Poll);
        Assert.Equal(DeviceRunState.Restarting, disk.State);
        Assert.Equal(1, disk.Failures);
        holdRestart.Set();
        AwaitCondition(() => disk.State == DeviceRunState.Running, Generous, Poll);
        Assert.Equal(1, disk.Restarts);
        Assert.False(vm.Stopped.IsCompleted);
        vm.RequestStop();
        await vm.Stopped.WaitAsync(Generous);
        Assert.Equal(DeviceRunState.Stopped, disk.State);
        Assert.False(disk.Crash("after the VM stopped"));
    }

    [Fact]
    public async Task The_decider_should_see_a_requested_crash_by_its_own_type()
    {
        var decider = new Dictionary<string, SupervisionAction> { ["default"] = SupervisionAction.Restart, [nameof(RequestedDeviceCrash)] = SupervisionAction.Stop };
        var vm = VmActor.Spawn(Sys, Blueprint("crash-stop", new DeviceBlueprint("serial0", _ => new CounterDevice("serial0"), [BusRange.Pio(0x3f8, 8)]), decider));
        var serial = RunningDevice(vm);
        Assert.Null(serial.Kind);

        Assert.True(serial.Crash("stop it"));

        AwaitCondition(() => serial.State == DeviceRunState.Stopped, Generous, Poll);
        Assert.Equal(1, serial.Failures);
        Assert.Equal(0, serial.Restarts);
        Assert.False(vm.Stopped.IsCompleted);
        vm.RequestStop();
        await vm.Stopped.WaitAsync(Generous);
    }

    [Fact]
    public async Task A_requested_crash_beyond_the_budget_should_stop_the_VM_under_the_stop_vm_policy()
    {
        var device = new DeviceBlueprint("net0", _ => new CounterDevice("net0"), [BusRange.Pio(0x100, 4)]);
        var blueprint = Blueprint("crash-vm", device, Restart, maxRestarts: 0);
        var vm = VmActor.Spawn(Sys, blueprint with { Supervision = blueprint.Supervision with { OnBudgetExceeded = BudgetExceededPolicy.StopVm } });
        var net = RunningDevice(vm);

        Assert.True(net.Crash("once too often"));

        var reason = await vm.Stopped.WaitAsync(Generous);
        Assert.Equal(VmStopReasonKind.DeviceFailure, reason.Kind);
        Assert.Contains("RequestedDeviceCrash", reason.Message);
        Assert.Contains("once too often", reason.Message);
    }

    [Fact]
    public async Task An_inline_device_failure_should_show_restarting_until_the_next_instance_is_installed()
    {
        var built = 0;
        using var holdRestart = new ManualResetEventSlim(false);
        var device = new DeviceBlueprint("disk0", _ =>
        {
            if (Interlocked.Increment(ref built) == 2)
            {
                holdRestart.Wait(Generous);
            }

            return new CounterDevice("disk0");
        }, [BusRange.Mmio(0xd000_0000, 0x100)]);
        var vm = VmActor.Spawn(Sys, Blueprint("inline-crash", device, Restart));
        var disk = RunningDevice(vm);
        var bus = (await vm.Actor.Ask<VmProtocol.Status>(VmProtocol.GetStatus.Instance, Generous)).Bus;

        bus.Write(BusSpace.Mmio, 0xd000_0000, [CounterDevice.Crash]);

        Assert.Equal(DeviceRunState.Restarting, disk.State);
        AwaitCondition(() => Volatile.Read(ref built) == 2, Generous, Poll);
        Assert.Equal(DeviceRunState.Restarting, disk.State);
        holdRestart.Set();
        AwaitCondition(() => disk.State == DeviceRunState.Running, Generous, Poll);
        vm.RequestStop();
        await vm.Stopped.WaitAsync(Generous);
    }

    [Fact]
    public async Task A_resumed_device_should_be_running_again_without_waiting_for_an_access()
    {
        var decider = new Dictionary<string, SupervisionAction> { ["default"] = SupervisionAction.Stop, [nameof(RequestedDeviceCrash)] = SupervisionAction.Resume };
        var device = new CounterDevice("rtc");
        var vm = VmActor.Spawn(Sys, Blueprint("crash-resume", new DeviceBlueprint("rtc", _ => device, [BusRange.Pio(0x70, 2)]), decider));
        var rtc = RunningDevice(vm);
        var bus = (await vm.Actor.Ask<VmProtocol.Status>(VmProtocol.GetStatus.Instance, Generous)).Bus;
        bus.Write(BusSpace.Pio, 0x70, [1]);

        Assert.True(rtc.Crash("resume it"));

        AwaitCondition(() => rtc.Failures == 1 && rtc.State == DeviceRunState.Running, Generous, Poll);
        Assert.Equal(0, rtc.Restarts);
        Assert.Same(device, rtc.InlineDevice);
        Assert.Equal(1, device.Count);
        vm.RequestStop();
        await vm.Stopped.WaitAsync(Generous);
    }
}
