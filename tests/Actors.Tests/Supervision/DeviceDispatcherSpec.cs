using ActorVmm.Actors.Endpoints;
using ActorVmm.Actors.Settings;
using ActorVmm.Actors.Supervision;
using ActorVmm.TestSupport.Fakes;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Xunit;

namespace ActorVmm.Actors.Tests.Supervision;

/// <summary>Device actors run on <see cref="DeviceSupervisorActor.DispatcherId"/> when the actor system configures it.</summary>
public class DeviceDispatcherSpec : TestKit
{
    public DeviceDispatcherSpec()
        : base($"{DeviceSupervisorActor.DispatcherId} {{ type = PinnedDispatcher }}")
    {
    }

    [Fact]
    public void Device_actors_should_run_on_the_configured_device_dispatcher()
    {
        var endpoint = new DeviceEndpoint("counter0", new DeviceSettings(TimeSpan.FromSeconds(30)), Sys.Log);
        var settings = new SupervisionSettings(
            10, TimeSpan.FromMinutes(1), RestartStateSource.Saved, BudgetExceededPolicy.StopVm, new Dictionary<string, SupervisionAction> { ["default"] = SupervisionAction.Restart });
        ChildActorOf(DeviceSupervisorActor.Props([new DeviceSupervisorProtocol.DeviceSpec(endpoint, () => new CounterDevice("counter0"))], settings, TestActor));
        ExpectMsg<DeviceSupervisorProtocol.Started>();

        var cell = ((ActorRefWithCell)endpoint.Actor!).Underlying;

        Assert.Equal(DeviceSupervisorActor.DispatcherId, cell.Props.Dispatcher);
    }
}
