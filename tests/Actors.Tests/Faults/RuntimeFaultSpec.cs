using ActorVmm.Actors.Bus;
using ActorVmm.Actors.Endpoints;
using ActorVmm.Actors.Faults;
using ActorVmm.Actors.Settings;
using ActorVmm.Actors.Supervision;
using ActorVmm.Actors.Vm;
using ActorVmm.Devices;
using ActorVmm.TestSupport.Fakes;
using Akka.TestKit.Xunit2;
using Xunit;

namespace ActorVmm.Actors.Tests.Faults;

/// <summary>Fault plans added and removed while the device runs (the <c>/vms/{id}/faults</c> API).</summary>
public class RuntimeFaultSpec : TestKit
{
    private readonly List<TimeSpan> _sleeps = [];

    private FaultInjector NewInjector(params string[] specs) =>
        new(specs.Select(s => FaultPlan.Parse(s)), sleep: d => { lock (_sleeps) { _sleeps.Add(d); } });

    /// <summary>A device behind a real endpoint and device supervisor, wrapped by <paramref name="injector"/>.</summary>
    private DeviceEndpoint Start(FaultInjector injector, string name, Func<IBusDevice> device, TimeSpan? readTimeout = null)
    {
        var blueprint = injector.Wrap(new DeviceBlueprint(name, _ => device(), [BusRange.Pio(0x100, 8)]));
        injector.Validate([name, "serial0"]);
        var endpoint = new DeviceEndpoint(name, new DeviceSettings(readTimeout ?? TimeSpan.FromSeconds(30)), Sys.Log, blueprint.Inline);
        var context = new DeviceContext(name, null, null!);
        ChildActorOf(DeviceSupervisorActor.Props([new DeviceSupervisorProtocol.DeviceSpec(endpoint, () => blueprint.Factory(context))], SupervisionSettings.Default, TestActor));
        ExpectMsg<DeviceSupervisorProtocol.Started>();
        // Started comes once the device actors exist; each installs its device when it starts. Until then accesses
        // are posted and would run after the test has armed its plans.
        AwaitCondition(() => endpoint.State == DeviceRunState.Running, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(5));
        return endpoint;
    }

    private static byte Read(DeviceEndpoint endpoint, ulong offset = 0)
    {
        Span<byte> data = stackalloc byte[1];
        endpoint.Read(offset, data);
        return data[0];
    }

    [Fact]
    public async Task A_crash_added_at_run_time_should_restart_the_device_on_its_next_access_and_stop_once_removed()
    {
        var injector = NewInjector();
        var endpoint = Start(injector, "counter0", () => new CounterDevice("counter0"));
        endpoint.Write(0, [1]);
        endpoint.Write(0, [1]);
        Assert.Equal(0, endpoint.Restarts);

        var id = injector.Add(FaultPlan.Parse("counter0:crash"));
        endpoint.Write(0, [1]);
        await AwaitConditionAsync(() => Task.FromResult(endpoint.Restarts == 1), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(10));
        Assert.Equal([new ActiveFault(id, FaultPlan.Parse("counter0:crash"), 1)], injector.Active);

        Assert.True(injector.Remove(id));
        endpoint.Write(0, [1]);
        endpoint.Write(0, [1]);

        // The crashed write never reached the device; the state (2) survived the restart; the two writes after the removal landed.
        Assert.Equal(4, Read(endpoint));
        Assert.Equal(1, endpoint.Restarts);
        Assert.Equal(1, injector.Counters.Injected("counter0", FaultKind.Crash));
        Assert.Empty(injector.Active);
    }

    [Fact]
    public void Every_plan_should_get_an_id_the_ones_given_at_start_first()
    {
        var injector = NewInjector("counter0:crash,every=5", "counter0:corrupt,offset=0x1,mask=0x4");
        injector.Validate(["counter0"]);

        var added = injector.Add(FaultPlan.Parse("counter0:delay,p=0.5,seed=7,delay=2ms"));

        Assert.Equal("f3", added);
        Assert.Equal(["f1", "f2", "f3"], injector.Active.Select(a => a.Id));
        Assert.Equal(
            ["counter0:crash,every=5", "counter0:corrupt,offset=0x1,mask=0x4", "counter0:delay,p=0.5,seed=7,delay=2ms"],
            injector.Active.Select(a => a.Plan.ToString()));
        Assert.True(injector.Remove("f1"));
        Assert.False(injector.Remove("f1"));
        Assert.False(injector.Remove("f9"));
        Assert.Equal("f4", injector.Add(FaultPlan.Parse("counter0:crash")));
        Assert.Equal(["f2", "f3", "f4"], injector.Active.Select(a => a.Id));
    }

    [Fact]
    public void Adding_a_plan_for_a_device_the_VM_does_not_have_should_fail_in_one_line_and_arm_nothing()
    {
        var injector = NewInjector("serial0:drop,p=0.5");
        injector.Validate(["serial0", "i8042", "disk0"]);

        var unknown = Assert.Throws<SettingsException>(() => injector.Add(FaultPlan.Parse("disk7:crash")));
        var ioError = Assert.Throws<SettingsException>(() => injector.Add(FaultPlan.Parse("serial0:io-error,every=2")));

        Assert.Equal("fault 'disk7:crash': this VM has no device disk7 (devices: disk0, i8042, serial0)", unknown.Message);
        Assert.Equal("fault 'serial0:io-error,every=2': io-error needs a virtio-blk disk; serial0 is not one", ioError.Message);
        Assert.Equal(["f1"], injector.Active.Select(a => a.Id));
        Assert.Empty(injector.SchedulesFor("disk7"));
        Assert.Equal("f2", injector.Add(FaultPlan.Parse("i8042:crash")));
    }

    [Theory]
    [InlineData("every=3")]
    [InlineData("p=0.5,seed=7")]
    public void A_trigger_added_at_run_time_should_fire_the_same_accesses_in_every_run(string trigger)
    {
        var first = FiredAccesses(trigger);
        var second = FiredAccesses(trigger);

        Assert.Equal(first.Fired, second.Fired);
        Assert.InRange(first.Fired.Count, 1, 63);
        Assert.Equal(first.Fired.Count, first.Counted);
        if (trigger == "every=3")
        {
            Assert.Equal(Enumerable.Range(0, 64).Where(i => i >= 10 && (i - 9) % 3 == 0), first.Fired);
        }
    }

    /// <summary>64 accesses through the decorator; the plan is added after the 10th. Returns which accesses crashed.</summary>
    private static (List<int> Fired, long Counted) FiredAccesses(string trigger)
    {
        var injector = new FaultInjector([]);
        injector.Validate(["c0"]);
        var device = FaultInjectingDevice.Create(new ConstantDevice("c0", 1), "c0", injector);
        var fired = new List<int>();
        string? id = null;
        for (var i = 0; i < 64; i++)
        {
            if (i == 10)
            {
                id = injector.Add(FaultPlan.Parse($"c0:crash,{trigger}"));
            }

            try
            {
                device.Write(0, [1]);
            }
            catch (InjectedDeviceFault)
            {
                fired.Add(i);
            }
        }

        Assert.Equal(fired.Count, injector.Active.Single(a => a.Id == id).Fired);
        return (fired, injector.Counters.Injected("c0", FaultKind.Crash));
    }

    [Fact]
    public async Task Plans_added_and_removed_from_several_threads_while_accesses_run_should_keep_the_counts_consistent()
    {
        var injector = NewInjector();
        var observed = 0L;
        injector.FaultObserved = (_, _) => Interlocked.Increment(ref observed);
        var endpoint = Start(injector, "c0", () => new ConstantDevice("c0", 0x10));
        using var stop = new CancellationTokenSource();
        var reads = 0L;
        var corrupted = 0L;
        var readers = Enumerable.Range(0, 3).Select(_ => Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                Interlocked.Increment(ref reads);
                if (Read(endpoint) != 0x10)
                {
                    Interlocked.Increment(ref corrupted);
                }
            }
        })).ToList();
        var ids = new System.Collections.Concurrent.ConcurrentBag<string>();
        var kept = new System.Collections.Concurrent.ConcurrentBag<string>();
        var changers = Enumerable.Range(0, 4).Select(t => Task.Run(() =>
        {
            for (var i = 0; i < 200; i++)
            {
                // Distinct bits per changer, so two plans firing on one read never cancel out.
                var id = injector.Add(FaultPlan.Parse($"c0:corrupt,every={1 + (i % 3)},mask=0x{1 << t:x}"));
                ids.Add(id);
                if (i % 10 == 9)
                {
                    kept.Add(id);
                }
                else
                {
                    Assert.True(injector.Remove(id));
                }
            }
        })).ToList();
        await Task.WhenAll(changers).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(800, ids.Distinct().Count());
        Assert.Equal(kept.Order(), injector.Active.Select(a => a.Id).Order());
        foreach (var id in kept)
        {
            Assert.True(injector.Remove(id));
        }

        stop.Cancel();
        await Task.WhenAll(readers).WaitAsync(TimeSpan.FromSeconds(60));

        var injected = injector.Counters.Injected("c0", FaultKind.Corrupt);
        Assert.Equal(injected, Interlocked.Read(ref observed));
        Assert.True(Interlocked.Read(ref corrupted) <= injected, $"{corrupted} corrupted reads, {injected} faults");
        Assert.Empty(injector.Active);
        Assert.Equal(0x10, Read(endpoint));
        Assert.Equal(injected, injector.Counters.Injected("c0", FaultKind.Corrupt));
        Assert.Equal(0, endpoint.Failures);
    }

    [Fact]
    public void A_delay_added_at_run_time_to_an_inline_device_should_be_cut_to_the_read_timeout()
    {
        var injector = new FaultInjector([], sleep: d => { lock (_sleeps) { _sleeps.Add(d); } }) { ReadTimeout = TimeSpan.FromMilliseconds(40) };
        var endpoint = Start(injector, "c0", () => new ConstantDevice("c0", 7), TimeSpan.FromMilliseconds(40));
        Assert.True(endpoint.InlineEnabled);

        injector.Add(FaultPlan.Parse("c0:delay,delay=5s"));

        Assert.Equal(7, Read(endpoint));
        Assert.Equal([TimeSpan.FromMilliseconds(40)], _sleeps);
    }

    [Fact]
    public void A_device_with_a_delay_plan_at_start_should_stay_off_the_inline_path_and_wait_the_whole_delay_on_its_actor()
    {
        var injector = new FaultInjector([FaultPlan.Parse("c0:delay,delay=200us")], sleep: d => { lock (_sleeps) { _sleeps.Add(d); } }) { ReadTimeout = TimeSpan.FromMilliseconds(40) };
        var endpoint = Start(injector, "c0", () => new ConstantDevice("c0", 7));
        Assert.False(endpoint.InlineEnabled);

        injector.Add(FaultPlan.Parse("c0:delay,delay=5s"));

        Assert.Equal(7, Read(endpoint));
        lock (_sleeps)
        {
            Assert.Equal([TimeSpan.FromMicroseconds(200), TimeSpan.FromSeconds(5)], _sleeps);
        }
    }

    [Fact]
    public void Every_device_should_be_wrapped_and_keep_its_mapping_so_a_plan_can_be_added_later()
    {
        var blueprint = new DeviceBlueprint("serial0", _ => new ConstantDevice("serial0", 1), [BusRange.Pio(0x3f8, 8)]);

        var wrapped = new FaultInjector([FaultPlan.Parse("disk0:crash")]).Wrap(blueprint);

        Assert.True(wrapped.Inline);
        var device = Assert.IsAssignableFrom<FaultInjectingDevice>(wrapped.Factory(new DeviceContext("serial0", null, null!)));
        Assert.IsType<ConstantDevice>(device.Inner);
        Assert.False(device.ShouldDropRead(0, 1));
    }
}
