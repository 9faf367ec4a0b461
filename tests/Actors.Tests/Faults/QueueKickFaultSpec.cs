using ActorVmm.Actors.Faults;
using ActorVmm.Devices;
using Xunit;

namespace ActorVmm.Actors.Tests.Faults;

/// <summary>A queue kick is the write to the queue's notify register for register-level fault plans.</summary>
public class QueueKickFaultSpec
{
    private sealed class Queues : IBusDevice, IQueueDevice
    {
        public string Name => "net0";

        public int QueueCount => 2;

        public int Kicks { get; private set; }

        public int Passes { get; private set; }

        public Action<int>? QueueKickHandler { get; set; }

        public ulong NotifyRegister(int queueIndex) => 0x3000 + (ulong)queueIndex * 4;

        public bool TryBeginQueuePass(int queue)
        {
            Kicks++;
            return true;
        }

        public QueuePassResult RunQueuePass(int queue)
        {
            Passes++;
            return default;
        }

        public void EndQueuePass(int queue, QueuePassResult result)
        {
        }

        public void Quiesce()
        {
        }

        public void Unquiesce()
        {
        }

        public void Read(ulong offset, Span<byte> data) => data.Clear();

        public void Write(ulong offset, ReadOnlySpan<byte> data)
        {
        }
    }

    private static (FaultInjectingDevice Device, Queues Inner, FaultInjector Injector) Wrap(string spec)
    {
        var injector = new FaultInjector([FaultPlan.Parse(spec)], sleep: _ => { });
        var inner = new Queues();
        return (FaultInjectingDevice.Create(inner, "net0", injector), inner, injector);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(8)]
    public void Crash_every_N_should_fire_on_every_Nth_kick_before_the_pass_is_claimed(int n)
    {
        var (device, inner, injector) = Wrap($"net0:crash,every={n}");
        var crashes = 0;

        for (var i = 1; i <= 4 * n; i++)
        {
            try
            {
                device.TryBeginQueuePass(i % 2);
            }
            catch (InjectedDeviceFault)
            {
                crashes++;
                Assert.Equal(0, i % n);
            }
        }

        Assert.Equal(4, crashes);
        Assert.Equal(4 * n - 4, inner.Kicks);
        Assert.Equal(4, injector.Counters.Injected("net0", FaultKind.Crash));
    }

    [Fact]
    public void An_offset_trigger_should_fire_only_on_kicks_of_the_queue_whose_notify_register_it_names()
    {
        var (device, inner, _) = Wrap("net0:crash,offset=0x3004");

        device.TryBeginQueuePass(0);
        Assert.Throws<InjectedDeviceFault>(() => device.TryBeginQueuePass(1));

        Assert.Equal(1, inner.Kicks);
    }

    [Fact]
    public void Delay_should_wait_on_the_queue_worker_before_each_pass_not_when_the_pass_is_claimed()
    {
        var delays = new List<TimeSpan>();
        var injector = new FaultInjector([FaultPlan.Parse("net0:delay,delay=5ms")], sleep: delays.Add);
        var inner = new Queues();
        var device = FaultInjectingDevice.Create(inner, "net0", injector);

        var queues = (IQueueDevice)device;
        Assert.True(queues.TryBeginQueuePass(0));
        Assert.True(queues.TryBeginQueuePass(1));
        Assert.Empty(delays);
        queues.RunQueuePass(0);
        queues.RunQueuePass(1);

        Assert.Equal([TimeSpan.FromMilliseconds(5), TimeSpan.FromMilliseconds(5)], delays);
        Assert.Equal(2, inner.Passes);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(42)]
    public void Crash_p_with_a_seed_should_hit_the_same_kicks_as_the_same_plan_on_notify_writes(int seed)
    {
        var spec = $"net0:crash,p=0.3,seed={seed}";
        var (kicked, _, _) = Wrap(spec);
        var (written, _, _) = Wrap(spec);
        var kickCrashes = new List<int>();
        var writeCrashes = new List<int>();

        for (var i = 0; i < 200; i++)
        {
            var queue = i % 2;
            try
            {
                kicked.TryBeginQueuePass(queue);
            }
            catch (InjectedDeviceFault)
            {
                kickCrashes.Add(i);
            }

            try
            {
                written.Write(0x3000 + (ulong)queue * 4, [(byte)queue, 0]);
            }
            catch (InjectedDeviceFault)
            {
                writeCrashes.Add(i);
            }
        }

        Assert.InRange(kickCrashes.Count, 30, 90);
        Assert.Equal(writeCrashes, kickCrashes);
    }
}
