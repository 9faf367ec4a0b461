using ActorVmm.Actors.Bus;
using ActorVmm.Actors.Endpoints;
using ActorVmm.Actors.Faults;
using ActorVmm.Actors.Settings;
using ActorVmm.Actors.Supervision;
using ActorVmm.Actors.Vm;
using ActorVmm.Devices;
using ActorVmm.Host.Settings;
using ActorVmm.TestSupport.Fakes;
using Akka.TestKit.Xunit2;
using Xunit;

namespace ActorVmm.Actors.Tests.Faults;

/// <summary>Register-level faults through a real endpoint and device supervisor.</summary>
public class FaultInjectionSpec : TestKit
{
    private readonly List<TimeSpan> _sleeps = [];

    private (DeviceEndpoint Endpoint, FaultInjector Injector) Start(string spec, Func<IBusDevice> device, TimeSpan? readTimeout = null)
    {
        var injector = new FaultInjector([FaultPlan.Parse(spec)], sleep: d => { lock (_sleeps) { _sleeps.Add(d); } });
        var name = injector.Plans[0].Device;
        var blueprint = injector.Wrap(new DeviceBlueprint(name, _ => device(), [BusRange.Pio(0x100, 8)]));
        var endpoint = new DeviceEndpoint(name, new DeviceSettings(readTimeout ?? TimeSpan.FromSeconds(30)), Sys.Log, blueprint.Inline);
        var context = new DeviceContext(name, null, null!);
        var spec2 = new DeviceSupervisorProtocol.DeviceSpec(endpoint, () => blueprint.Factory(context));
        ChildActorOf(DeviceSupervisorActor.Props([spec2], SupervisionSettings.Default, TestActor));
        ExpectMsg<DeviceSupervisorProtocol.Started>();
        return (endpoint, injector);
    }

    private static byte Read(DeviceEndpoint endpoint, ulong offset = 0)
    {
        Span<byte> data = stackalloc byte[1];
        endpoint.Read(offset, data);
        return data[0];
    }

    [Fact]
    public void Crash_every_3_should_restart_the_device_on_the_3rd_access_with_its_state_kept()
    {
        var (endpoint, injector) = Start("counter0:crash,every=3", () => new CounterDevice("counter0"));

        endpoint.Write(0, [1]);
        endpoint.Write(0, [1]);
        endpoint.Write(0, [1]);
        AwaitCondition(() => endpoint.Restarts == 1);

        Assert.Equal(2, Read(endpoint));
        Assert.Equal(1, injector.Counters.Injected("counter0", FaultKind.Crash));
        Assert.Equal(1, endpoint.Failures);
        Assert.Contains("counter0: faults crash=1; restarts 1; failures 1", FaultSummary.Format(injector.Counters, [endpoint]));
    }

    [Fact]
    public void A_crash_should_be_an_InjectedDeviceFault_the_decider_can_name()
    {
        var injector = new FaultInjector([FaultPlan.Parse("c0:crash")]);
        var device = FaultInjectingDevice.Create(new ConstantDevice("c0", 1), "c0", injector);

        var e = Assert.Throws<InjectedDeviceFault>(() => device.Write(2, [0]));

        Assert.Equal("c0", e.Device);
        Assert.Equal(SupervisionAction.Stop, new DeciderTable(new Dictionary<string, SupervisionAction> { ["InjectedDeviceFault"] = SupervisionAction.Stop }).Decide(e));
    }

    [Fact]
    public void Drop_should_make_the_read_time_out_to_all_ones_without_reaching_the_device()
    {
        var device = new ConstantDevice("const0", 0x42);
        var (endpoint, injector) = Start("const0:drop,offset=1", () => device, TimeSpan.FromMilliseconds(50));

        Assert.Equal(0x42, Read(endpoint, 0));
        Assert.Equal(0xFF, Read(endpoint, 1));

        Assert.Equal(1, endpoint.ReadTimeouts);
        Assert.Equal(1, device.Reads);
        Assert.Equal(1, injector.Counters.Injected("const0", FaultKind.Drop));
        Assert.Equal(0, endpoint.Restarts);
    }

    [Fact]
    public void Corrupt_should_flip_the_mask_bits_in_what_the_guest_reads()
    {
        var (endpoint, injector) = Start("const0:corrupt,every=2,mask=0x81", () => new ConstantDevice("const0", 0x10));

        Assert.Equal([0x10, 0x91, 0x10, 0x91], new[] { Read(endpoint), Read(endpoint), Read(endpoint), Read(endpoint) });
        Assert.Equal(2, injector.Counters.Injected("const0", FaultKind.Corrupt));
    }

    [Fact]
    public void Delay_should_wait_the_plan_delay_before_the_access_and_map_the_device_non_inline()
    {
        var device = new ConstantDevice("const0", 7);
        var (endpoint, injector) = Start("const0:delay,every=2,delay=200us", () => device);

        Assert.False(endpoint.InlineEnabled);
        Assert.Equal(7, Read(endpoint));
        Assert.Equal(7, Read(endpoint));

        Assert.Equal([TimeSpan.FromMicroseconds(200)], _sleeps);
        Assert.Equal(1, injector.Counters.Injected("const0", FaultKind.Delay));
    }

    [Fact]
    public void A_delay_longer_than_the_read_timeout_should_give_the_guest_all_ones()
    {
        var injector = new FaultInjector([FaultPlan.Parse("const0:delay,delay=300ms")]);
        var blueprint = injector.Wrap(new DeviceBlueprint("const0", _ => new ConstantDevice("const0", 7), [BusRange.Pio(0x100, 8)]));
        var endpoint = new DeviceEndpoint("const0", new DeviceSettings(TimeSpan.FromMilliseconds(20)), Sys.Log, blueprint.Inline);
        ChildActorOf(DeviceSupervisorActor.Props([new DeviceSupervisorProtocol.DeviceSpec(endpoint, () => blueprint.Factory(new DeviceContext("const0", null, null!)))], SupervisionSettings.Default, TestActor));
        ExpectMsg<DeviceSupervisorProtocol.Started>();

        Assert.Equal(0xFF, Read(endpoint));
        Assert.Equal(1, endpoint.ReadTimeouts);
    }

    [Fact]
    public void Validate_should_reject_plans_for_devices_the_VM_does_not_have_and_io_errors_on_non_disks()
    {
        var unknown = new FaultInjector([FaultPlan.Parse("disk7:crash")]);
        var e = Assert.Throws<SettingsException>(() => unknown.Validate(["serial0", "disk0"]));
        Assert.Equal("fault 'disk7:crash': this VM has no device disk7 (devices: disk0, serial0)", e.Message);

        var ioError = new FaultInjector([FaultPlan.Parse("serial0:io-error")]);
        Assert.Contains("io-error needs a virtio-blk disk", Assert.Throws<SettingsException>(() => ioError.Validate(["serial0"])).Message);
    }

    [Fact]
    public void A_summary_without_faults_or_restarts_should_be_empty()
    {
        Assert.Equal(string.Empty, FaultSummary.Format(new FaultCounters(), []));
    }
}
