using System.Diagnostics;
using ActorVmm.Actors.Bus;
using ActorVmm.Actors.Endpoints;
using ActorVmm.Actors.Irq;
using ActorVmm.Actors.Settings;
using ActorVmm.Host.Settings;
using ActorVmm.Actors.Vm;
using ActorVmm.Kvm;
using Akka.Actor;
using Akka.Configuration;
using HdrHistogram;
using BusMap = ActorVmm.Actors.Bus.Bus;

namespace ActorVmm.Bench;

/// <summary>
/// PIO read round trips from a dedicated (vCPU-like) thread: direct call (the floor), bus + device endpoint with the
/// device idle (inline path), bus + endpoint forced through the actor (posted path), plain Akka Ask; posted-write
/// throughput; the contended case; CPU burnt by an idle VM.
/// </summary>
internal static class PioBench
{
    private const ushort Port = Layout.I8042Port;

    public static int Run(string[] args)
    {
        var reads = 1_000_000;
        for (var i = 0; i < args.Length - 1; i++)
        {
            if (args[i] == "--reads")
            {
                reads = int.Parse(args[i + 1]);
            }
        }

        var pinned = args.Contains("--pinned");
        var config = ConfigurationFactory.ParseString(
            "akka.loglevel = WARNING\nakka.stdout-loglevel = WARNING\n"
            + (pinned ? "actorvmm.device-dispatcher { type = PinnedDispatcher }\n" : string.Empty));
        using var system = ActorSystem.Create("bench", config);
        var settings = new DeviceSettings(TimeSpan.FromSeconds(5));

        var direct = new TrivialDevice("direct");
        var (inlineBus, inlineEndpoint) = Build(system, settings, inline: true);
        var (postedBus, postedEndpoint) = Build(system, settings, inline: false);
        var askActor = system.ActorOf(Props.Create(() => new AskDeviceActor()));
        Thread.Sleep(200);

        Console.WriteLine($"ActorVmm PIO benchmark: {Environment.ProcessorCount} cores, .NET {Environment.Version}, {reads:N0} reads per case, device actors on the {(pinned ? "pinned" : "default")} dispatcher");
        Console.WriteLine();
        Console.WriteLine($"{"case",-44} {"p50 ns",9} {"p99 ns",9} {"p99.9 ns",9} {"max ns",10} {"reads/s",12}");

        Report("direct synchronous call (floor)", OnVcpuThread(() => Measure(reads, data => direct.Read(0, data))));
        Report("bus + endpoint, idle device (inline)", OnVcpuThread(() => Measure(reads, data => inlineBus.Read(BusSpace.Pio, Port, data))));
        Report("bus + endpoint, through the device actor", OnVcpuThread(() => Measure(reads / 10, data => postedBus.Read(BusSpace.Pio, Port, data))));
        Report("plain Akka Ask", OnVcpuThread(() => Measure(reads / 20, data =>
            data[0] = askActor.Ask<AskDeviceActor.ReadReply>(new AskDeviceActor.ReadRequest(0)).GetAwaiter().GetResult().Value)));

        // Contended: a second thread hammers the same device (through the same bus) while we measure.
        var stop = 0;
        long hammered = 0;
        var hammer = new Thread(() =>
        {
            Span<byte> d = stackalloc byte[1];
            while (Volatile.Read(ref stop) == 0)
            {
                inlineBus.Read(BusSpace.Pio, Port, d);
                inlineBus.Write(BusSpace.Pio, Port, [0x5a]);
                hammered += 2;
            }
        }) { Name = "vcpu1", IsBackground = true };
        hammer.Start();
        var inlineBefore = inlineEndpoint.InlineAccesses;
        var postedBefore = inlineEndpoint.PostedAccesses;
        Report("contended: 2nd thread hammering the device", OnVcpuThread(() => Measure(reads / 2, data => inlineBus.Read(BusSpace.Pio, Port, data))));
        Volatile.Write(ref stop, 1);
        hammer.Join();
        var inlineShare = inlineEndpoint.InlineAccesses - inlineBefore;
        var postedShare = inlineEndpoint.PostedAccesses - postedBefore;
        Console.WriteLine($"{"",-44} (both threads: {inlineShare:N0} inline, {postedShare:N0} through the actor; hammer did {hammered:N0})");

        Console.WriteLine();
        Console.WriteLine($"{"writes",-44} {"writes/s",12}");
        Console.WriteLine($"{"posted writes, 1 vCPU -> 1 device (actor)",-44} {OnVcpuThread(() => WriteThroughput(postedBus, reads)),12:N0}");
        Console.WriteLine($"{"writes, idle device (inline)",-44} {OnVcpuThread(() => WriteThroughput(inlineBus, reads)),12:N0}");

        Console.WriteLine();
        IdleCpu(system, settings);
        return 0;
    }

    private static (BusMap Bus, DeviceEndpoint Endpoint) Build(ActorSystem system, DeviceSettings settings, bool inline)
    {
        // A one-device VM without vCPUs gives us the real wiring: IRQ actor, supervisor, device actor, bus.
        var blueprint = new VmBlueprint(
            inline ? "inline" : "posted",
            [],
            [new DeviceBlueprint("kbd", _ => new TrivialDevice("kbd"), [BusRange.Pio(Port, 1)], Inline: inline)],
            new InMemoryIrqChip(),
            settings,
            SupervisionSettings.Default);
        var vm = VmActor.Spawn(system, blueprint);
        while (true)
        {
            var status = vm.Actor.Ask<VmProtocol.Status>(VmProtocol.GetStatus.Instance).GetAwaiter().GetResult();
            if (status.State == VmState.Running)
            {
                return (status.Bus, status.Devices[0]);
            }

            Thread.Sleep(10);
        }
    }

    private delegate void Access(Span<byte> data);

    private static LongHistogram Measure(int count, Access access)
    {
        Span<byte> data = stackalloc byte[1];
        for (var i = 0; i < Math.Min(count, 20_000); i++)
        {
            access(data);
        }

        var histogram = new LongHistogram(TimeSpan.FromSeconds(10).Ticks * 100, 3);
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < count; i++)
        {
            var t0 = Stopwatch.GetTimestamp();
            access(data);
            var t1 = Stopwatch.GetTimestamp();
            histogram.RecordValue(Math.Max(1, (t1 - t0) * 1_000_000_000 / Stopwatch.Frequency));
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        histogram.Tag = ((long)(count / elapsed.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (data[0] != 0x5a)
        {
            throw new InvalidOperationException($"read 0x{data[0]:x2}, expected 0x5a");
        }

        return histogram;
    }

    private static double WriteThroughput(BusMap bus, int count)
    {
        Span<byte> data = stackalloc byte[1];
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < count; i++)
        {
            bus.Write(BusSpace.Pio, Port, [0x5a]);
        }

        // A read queues behind the writes: when it returns, all of them were applied.
        bus.Read(BusSpace.Pio, Port, data);
        return count / Stopwatch.GetElapsedTime(started).TotalSeconds;
    }

    private static T OnVcpuThread<T>(Func<T> body)
    {
        T result = default!;
        var thread = new Thread(() => result = body()) { Name = "vcpu0" };
        thread.Start();
        thread.Join();
        return result;
    }

    private static void Report(string name, LongHistogram h) =>
        Console.WriteLine($"{name,-44} {h.GetValueAtPercentile(50),9:N0} {h.GetValueAtPercentile(99),9:N0} {h.GetValueAtPercentile(99.9),9:N0} {h.GetMaxValue(),10:N0} {long.Parse(h.Tag),12:N0}");

    private static void IdleCpu(ActorSystem system, DeviceSettings settings)
    {
        var blueprint = new VmBlueprint(
            "idle",
            [new IdleVcpu(0), new IdleVcpu(1)],
            [
                new DeviceBlueprint("kbd", _ => new TrivialDevice("kbd"), [BusRange.Pio(Port, 1)]),
                new DeviceBlueprint("serial0", _ => new TrivialDevice("serial0"), [BusRange.Pio(Layout.Com1Port, 8)], IrqRequest.Edge(Layout.Com1Irq)),
            ],
            new InMemoryIrqChip(),
            settings,
            SupervisionSettings.Default);
        var vm = VmActor.Spawn(system, blueprint);
        while (vm.Actor.Ask<VmProtocol.Status>(VmProtocol.GetStatus.Instance).GetAwaiter().GetResult().State != VmState.Running)
        {
            Thread.Sleep(10);
        }

        Thread.Sleep(500);
        var process = Process.GetCurrentProcess();
        var cpu0 = process.TotalProcessorTime;
        var wall = Stopwatch.StartNew();
        Thread.Sleep(2000);
        process.Refresh();
        var cpu = process.TotalProcessorTime - cpu0;
        Console.WriteLine($"idle VM (2 vCPUs blocked in the guest, 2 devices, all actor VMs alive): process CPU {cpu.TotalMilliseconds:N1} ms over {wall.Elapsed.TotalSeconds:N1} s ({100 * cpu.TotalMilliseconds / wall.Elapsed.TotalMilliseconds:N2}% of one core)");
        vm.RequestStop("benchmark done");
        var reason = vm.Stopped.GetAwaiter().GetResult();
        Console.WriteLine($"idle VM stopped: {reason}");
    }
}
