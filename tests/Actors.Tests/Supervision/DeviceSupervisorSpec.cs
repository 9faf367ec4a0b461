using ActorVmm.Actors;
using ActorVmm.Actors.Endpoints;
using ActorVmm.Actors.Settings;
using ActorVmm.Actors.Supervision;
using ActorVmm.Actors.Vm;
using ActorVmm.Host.Settings;
using ActorVmm.TestSupport.Fakes;
using Akka.TestKit.Xunit2;
using Xunit;

namespace ActorVmm.Actors.Tests.Supervision;

public class DeviceSupervisorSpec : TestKit
{
    private static SupervisionSettings Settings(
        RestartStateSource state = RestartStateSource.Saved,
        int maxRestarts = 10,
        BudgetExceededPolicy policy = BudgetExceededPolicy.StopVm,
        Dictionary<string, SupervisionAction>? decider = null) =>
        new(maxRestarts, TimeSpan.FromMinutes(1), state, policy, decider ?? new() { ["default"] = SupervisionAction.Restart });

    private DeviceEndpoint StartCounter(SupervisionSettings settings, Func<ActorVmm.Devices.IBusDevice>? factory = null)
    {
        var endpoint = new DeviceEndpoint("counter0", new DeviceSettings(TimeSpan.FromSeconds(30)), Sys.Log);
        var spec = new DeviceSupervisorProtocol.DeviceSpec(endpoint, factory ?? (() => new CounterDevice("counter0")));
        ChildActorOf(DeviceSupervisorActor.Props([spec], settings, TestActor));
        ExpectMsg<DeviceSupervisorProtocol.Started>();
        return endpoint;
    }

    private static byte Read(DeviceEndpoint endpoint)
    {
        Span<byte> data = stackalloc byte[1];
        endpoint.Read(0, data);
        return data[0];
    }

    private static void Increment(DeviceEndpoint endpoint, int times)
    {
        for (var i = 0; i < times; i++)
        {
            endpoint.Write(0, [1]);
        }
    }

    [Fact]
    public void A_restarted_device_should_come_back_with_its_saved_state_when_RestartState_is_Saved()
    {
        var endpoint = StartCounter(Settings(RestartStateSource.Saved));
        Increment(endpoint, 3);
        Assert.Equal(3, Read(endpoint));

        EventFilter.Info(contains: "restarted from its saved state").ExpectOne(() => endpoint.Write(0, [CounterDevice.Crash]));

        Assert.Equal(3, Read(endpoint));
        Assert.Equal(1, endpoint.Restarts);
        Assert.Equal(1, endpoint.Failures);
        Increment(endpoint, 1);
        Assert.Equal(4, Read(endpoint));
    }

    [Fact]
    public void A_restarted_device_should_come_back_in_power_on_state_when_RestartState_is_PowerOn()
    {
        var endpoint = StartCounter(Settings(RestartStateSource.PowerOn));
        Increment(endpoint, 3);

        EventFilter.Info(contains: "restarted from power-on state").ExpectOne(() => endpoint.Write(0, [CounterDevice.Crash]));

        Assert.Equal(0, Read(endpoint));
        Assert.Equal(1, endpoint.Restarts);
    }

    [Fact]
    public void A_device_that_throws_on_a_read_should_give_the_guest_all_ones_and_be_restarted()
    {
        var built = 0;
        var endpoint = StartCounter(Settings(), () => ++built == 1 ? new ThrowingReadCounter() : (ActorVmm.Devices.IBusDevice)new CounterDevice("counter0", 7));

        var first = Read(endpoint);
        AwaitCondition(() => endpoint.Restarts == 1);

        Assert.Equal(0xff, first);
        Assert.Equal(7, Read(endpoint));
    }

    [Fact]
    public void The_decider_table_should_resume_a_device_keeping_the_same_instance()
    {
        var endpoint = StartCounter(Settings(decider: new() { ["InvalidOperationException"] = SupervisionAction.Resume, ["default"] = SupervisionAction.Stop }));
        Increment(endpoint, 2);

        EventFilter.Warning(contains: "resuming").ExpectOne(() => endpoint.Write(0, [CounterDevice.Crash]));

        Assert.Equal(2, Read(endpoint));
        Assert.Equal(0, endpoint.Restarts);
        Assert.False(endpoint.IsStopped);
    }

    [Fact]
    public void The_decider_table_should_stop_a_device_which_then_reads_all_ones_and_drops_writes()
    {
        // IOException is matched by its base-type-free short name; everything else would restart.
        var endpoint = StartCounter(Settings(decider: new() { ["IOException"] = SupervisionAction.Stop, ["default"] = SupervisionAction.Restart }));
        Increment(endpoint, 2);

        EventFilter.Error(contains: "decider: Stop").ExpectOne(() => endpoint.Write(0, [CounterDevice.CrashIo]));
        AwaitCondition(() => endpoint.IsStopped);

        Assert.Equal(0xff, Read(endpoint));
        endpoint.Write(0, [1]);
        Assert.True(endpoint.DeadReads >= 1);
        Assert.True(endpoint.DeadWrites >= 1);
        ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void Beyond_the_restart_budget_with_StopVm_the_supervisor_should_report_a_DeviceFailure()
    {
        var endpoint = StartCounter(Settings(maxRestarts: 2, policy: BudgetExceededPolicy.StopVm));

        for (var i = 0; i < 2; i++)
        {
            endpoint.Write(0, [CounterDevice.Crash]);
            var restarts = i + 1;
            AwaitCondition(() => endpoint.Restarts == restarts);
        }

        endpoint.Write(0, [CounterDevice.Crash]);

        var failed = ExpectMsg<DeviceSupervisorProtocol.DeviceFailed>();
        Assert.Equal("counter0", failed.Device);
        Assert.Equal(VmStopReasonKind.DeviceFailure, failed.Reason.Kind);
        Assert.StartsWith("counter0 failed 3 times within 1m: InvalidOperationException: magic write", failed.Reason.Message);
        AwaitCondition(() => endpoint.IsStopped);
    }

    [Fact]
    public void Beyond_the_restart_budget_with_StopDevice_only_the_device_should_stop()
    {
        var endpoint = StartCounter(Settings(maxRestarts: 1, policy: BudgetExceededPolicy.StopDevice));
        endpoint.Write(0, [CounterDevice.Crash]);
        AwaitCondition(() => endpoint.Restarts == 1);

        EventFilter.Warning(contains: "is stopped").ExpectOne(() => endpoint.Write(0, [CounterDevice.Crash]));

        AwaitCondition(() => endpoint.IsStopped);
        Assert.Equal(0xff, Read(endpoint));
        ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void The_decider_should_match_base_types_then_default()
    {
        var table = new DeciderTable(new Dictionary<string, SupervisionAction>
        {
            ["System.IO.IOException"] = SupervisionAction.Stop,
            ["argumentexception"] = SupervisionAction.Resume,
            ["default"] = SupervisionAction.Escalate,
        });

        Assert.Equal(SupervisionAction.Stop, table.Decide(new FileNotFoundException()));
        Assert.Equal(SupervisionAction.Resume, table.Decide(new ArgumentOutOfRangeException()));
        Assert.Equal(SupervisionAction.Escalate, table.Decide(new InvalidOperationException()));
        Assert.Equal(SupervisionAction.Restart, new DeciderTable(new Dictionary<string, SupervisionAction>()).Decide(new Exception()));
    }

    [Fact]
    public void The_restart_budget_should_slide()
    {
        long now = 0;
        var budget = new RestartBudget(2, TimeSpan.FromSeconds(1), () => now);
        Assert.True(budget.TryConsume());
        Assert.True(budget.TryConsume());
        Assert.False(budget.TryConsume());
        Assert.Equal(3, budget.FailuresInWindow);
        now += 2 * System.Diagnostics.Stopwatch.Frequency;
        Assert.True(budget.TryConsume());
        Assert.Equal("1m", RestartBudget.Format(TimeSpan.FromMinutes(1)));
        Assert.Equal("30s", RestartBudget.Format(TimeSpan.FromSeconds(30)));
    }

    private sealed class ThrowingReadCounter : ActorVmm.Devices.IBusDevice
    {
        public string Name => "counter0";

        public void Read(ulong offset, Span<byte> data) => throw new InvalidOperationException("read exploded");

        public void Write(ulong offset, ReadOnlySpan<byte> data)
        {
        }
    }
}
