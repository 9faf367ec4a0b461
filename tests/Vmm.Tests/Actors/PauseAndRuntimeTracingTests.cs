using ActorVmm.Actors;
using ActorVmm.Actors.Bus;
using ActorVmm.Actors.Irq;
using ActorVmm.Actors.Settings;
using ActorVmm.Actors.Tracing;
using ActorVmm.Actors.Vcpu;
using ActorVmm.Actors.Vm;
using ActorVmm.Devices;
using ActorVmm.Host.Settings;
using ActorVmm.Vmm.Tests.Support;
using Akka.Actor;
using Akka.Configuration;
using static Iced.Intel.AssemblerRegisters;

namespace ActorVmm.Vmm.Tests.Actors;

/// <summary>
/// On real KVM a guest loops reading a counter device (IN) and echoing each value to a recorder (OUT). It is paused,
/// traced from a tracer attached while paused, resumed, traced on, untraced and stopped while paused again. The echoed
/// values stay consecutive across all of it (no IN lost or doubled at a pause), nothing is echoed while paused, and
/// the tracer sees exits only from its window.
/// </summary>
[Trait("Category", "Kvm")]
public sealed class PauseAndRuntimeTracingTests
{
    private const ushort CounterPort = 0x520;
    private const ushort EchoPort = 0x530;
    private static readonly TimeSpan Ask = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_paused_guest_should_make_no_exits_and_a_tracer_attached_meanwhile_should_see_the_resumed_run()
    {
        using var vm = RealModeProgramVm.Create(a =>
        {
            var loop = a.CreateLabel();
            a.Label(ref loop);
            a.mov(dx, CounterPort);
            a.@in(al, dx);
            a.mov(dx, EchoPort);
            a.@out(dx, al);
            a.jmp(loop);
        });
        var echo = new EchoRecorder();
        var counters = new ExitCounters();
        var system = ActorSystem.Create("pause-trace", ConfigurationFactory.ParseString("akka.loglevel = WARNING\nakka.stdout-loglevel = WARNING"));
        try
        {
            var blueprint = new VmBlueprint(
                "pause-trace",
                [.. vm.Vcpus],
                [
                    new DeviceBlueprint("counter", _ => new CounterDevice(), [BusRange.Pio(CounterPort, 1)]),
                    new DeviceBlueprint("echo", _ => echo, [BusRange.Pio(EchoPort, 1)]),
                ],
                new InMemoryIrqChip(),
                DeviceSettings.Default,
                SupervisionSettings.Default)
            {
                ExitCounters = counters,
            };
            var handle = VmActor.Spawn(system, blueprint);
            await echo.AtLeast(50);

            await handle.PauseAsync(Ask);
            var atPause = echo.Count;
            var tracer = new VmTracer(statistics: true);
            await handle.StartTracingAsync(tracer, Ask);
            Assert.Equal(atPause, echo.Count);
            await handle.ResumeAsync(Ask);
            await echo.AtLeast(atPause + 50);
            Assert.Same(tracer, await handle.StopTracingAsync(Ask));
            var traced = tracer.Statistics().Cells.Where(c => c.Key.Device == "echo").Sum(c => c.Value.Count);
            await handle.PauseAsync(Ask);
            var atSecondPause = echo.Count;

            handle.RequestStop("stopped while paused");

            var reason = await handle.Stopped.WaitAsync(GuestRun.Deadline, TestContext.Current.CancellationToken);
            Assert.Equal(VmStopReasonKind.HostRequest, reason.Kind);
            Assert.Equal(atSecondPause, echo.Count);
            Assert.InRange(traced, 50, atSecondPause - atPause);
            Assert.Equal(traced, tracer.Statistics().Cells.Where(c => c.Key.Device == "echo").Sum(c => c.Value.Count));
            Assert.Equal(atSecondPause, counters.Snapshot()["io-out"]);
            Assert.InRange(counters.Snapshot()["io-in"], atSecondPause, atSecondPause + 1);
            var values = echo.Values();
            Assert.All(Enumerable.Range(1, values.Count - 1), i => Assert.Equal((byte)(values[i - 1] + 1), values[i]));
            await tracer.CompleteAsync();
        }
        finally
        {
            await system.Terminate();
        }
    }

    /// <summary>Each read returns the next byte (0, 1, 2...).</summary>
    private sealed class CounterDevice : IBusDevice
    {
        private byte _next;

        public string Name => "counter";

        public void Read(ulong offset, Span<byte> data) => data.Fill(_next++);

        public void Write(ulong offset, ReadOnlySpan<byte> data)
        {
        }
    }

    private sealed class EchoRecorder : IBusDevice
    {
        private readonly Lock _lock = new();
        private readonly List<byte> _values = [];

        public string Name => "echo";

        public int Count
        {
            get
            {
                lock (_lock)
                {
                    return _values.Count;
                }
            }
        }

        public void Read(ulong offset, Span<byte> data) => data.Fill(0xff);

        public void Write(ulong offset, ReadOnlySpan<byte> data)
        {
            lock (_lock)
            {
                _values.Add(data[0]);
            }
        }

        public IReadOnlyList<byte> Values()
        {
            lock (_lock)
            {
                return [.. _values];
            }
        }

        public async Task AtLeast(int count)
        {
            var deadline = DateTime.UtcNow + GuestRun.Deadline;
            while (Count < count)
            {
                Assert.True(DateTime.UtcNow < deadline, $"the guest echoed only {Count} values");
                await Task.Delay(10, TestContext.Current.CancellationToken);
            }
        }
    }
}
