using ActorVmm.Actors.Bus;
using ActorVmm.Actors.Endpoints;
using ActorVmm.Actors.Irq;
using ActorVmm.Actors.Settings;
using ActorVmm.Actors.Vm;
using ActorVmm.Devices;
using ActorVmm.Kvm;
using ActorVmm.TestSupport.Fakes;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Xunit;

namespace ActorVmm.Actors.Tests.Vm;

/// <summary>The runtime's side of snapshots and restores, without KVM: who may snapshot, starting paused, devices starting from saved state.</summary>
public class VmSnapshotSpec : TestKit
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(20);

    private static VmBlueprint Blueprint(string name, IReadOnlyList<IVcpu> vcpus, IReadOnlyList<DeviceBlueprint> devices) =>
        new(name, vcpus, devices, new InMemoryIrqChip(), new DeviceSettings(TimeSpan.FromSeconds(30)),
            new SupervisionSettings(10, TimeSpan.FromMinutes(1), RestartStateSource.Saved, BudgetExceededPolicy.StopVm,
                new Dictionary<string, SupervisionAction> { ["default"] = SupervisionAction.Restart }));

    private VmProtocol.Status Status(VmHandle vm) => vm.Actor.Ask<VmProtocol.Status>(VmProtocol.GetStatus.Instance, Generous).Result;

    private void AwaitDevicesRunning(VmHandle vm, VmState state) =>
        AwaitCondition(() => Status(vm) is var s && s.State == state && s.Devices.All(d => d.State == DeviceRunState.Running), Generous, TimeSpan.FromMilliseconds(10));

    [Fact]
    public async Task Snapshot_of_a_running_VM_should_be_refused_and_create_nothing()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"snap-{Guid.NewGuid():N}");
        var vm = VmActor.Spawn(Sys, Blueprint("running", [new ScriptedVcpu(0)], []));
        AwaitDevicesRunning(vm, VmState.Running);

        var error = await Assert.ThrowsAsync<VmStateException>(() => vm.SnapshotAsync(dir));

        Assert.Equal(VmState.Running, error.State);
        Assert.Equal("VM running is running: pause it before a snapshot", error.Message);
        Assert.False(Directory.Exists(dir));
        vm.RequestStop();
        await vm.Stopped.WaitAsync(Generous);
    }

    [Fact]
    public async Task Snapshot_of_a_paused_VM_without_a_KVM_machine_should_fail_naming_why_and_create_nothing()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"snap-{Guid.NewGuid():N}");
        var vm = VmActor.Spawn(Sys, Blueprint("fake", [new ScriptedVcpu(0)], []));
        AwaitDevicesRunning(vm, VmState.Running);
        await vm.PauseAsync(Generous);

        var error = await Assert.ThrowsAsync<VmStateException>(() => vm.SnapshotAsync(dir));

        Assert.Equal(VmState.Paused, error.State);
        Assert.Contains("no KVM machine", error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(dir));
        Assert.Equal(VmState.Paused, Status(vm).State);
        vm.RequestStop();
        await vm.Stopped.WaitAsync(Generous);
    }

    [Fact]
    public async Task A_VM_started_paused_should_run_no_vcpu_until_resumed()
    {
        var post = new RecordingDevice("post");
        var vcpu = new ScriptedVcpu(0).Then(new VmExit(VmExitKind.IoOut, 0x80, 1), [0x42]);
        var vm = VmActor.Spawn(Sys, Blueprint("start-paused", [vcpu], [new DeviceBlueprint("post", _ => post, [BusRange.Pio(0x80, 1)])]) with { StartPaused = true });
        AwaitDevicesRunning(vm, VmState.Paused);

        await Task.Delay(200);
        Assert.Equal(0, vcpu.Runs);
        Assert.Empty(post.Log);

        await vm.ResumeAsync(Generous);

        Assert.True(vcpu.Idle.Wait(Generous));
        Assert.Equal([0x42UL], post.Log.Select(l => l.Value));
        Assert.Equal(VmState.Running, Status(vm).State);
        vm.RequestStop();
        await vm.Stopped.WaitAsync(Generous);
    }

    [Fact]
    public async Task A_device_with_a_restore_state_should_start_from_it_and_one_without_from_power_on()
    {
        var restored = new CounterDevice("restored");
        var fresh = new CounterDevice("fresh", 7);
        var vcpu = new ScriptedVcpu(0)
            .Then(new VmExit(VmExitKind.IoIn, 0x70, 1))
            .Then(new VmExit(VmExitKind.IoIn, 0x71, 1));
        var vm = VmActor.Spawn(Sys, Blueprint("restore", [vcpu],
        [
            new DeviceBlueprint("restored", _ => restored, [BusRange.Pio(0x70, 1)]) { RestoreState = 41 },
            new DeviceBlueprint("fresh", _ => fresh, [BusRange.Pio(0x71, 1)]),
        ]));

        Assert.True(vcpu.Idle.Wait(Generous));

        Assert.Equal(41, restored.Count);
        Assert.Equal(7, fresh.Count);
        Assert.Equal([[41], [7]], vcpu.Committed.Select(c => c.ToArray()));
        vm.RequestStop();
        await vm.Stopped.WaitAsync(Generous);
    }

    [Fact]
    public void A_held_endpoint_should_give_its_state_and_refuse_while_the_device_is_not_running()
    {
        var endpoint = new DeviceEndpoint("counter", new DeviceSettings(TimeSpan.FromSeconds(1)));

        var error = Assert.Throws<InvalidOperationException>(() => endpoint.HoldForSnapshot(out _));

        Assert.Equal("device counter is stopped: no snapshot now, try again", error.Message);
        endpoint.ReleaseAfterSnapshot();
    }
}
