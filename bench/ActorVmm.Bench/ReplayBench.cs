using System.Diagnostics;
using ActorVmm.Actors.Bus;
using ActorVmm.Actors.Irq;
using ActorVmm.Actors.Settings;
using ActorVmm.Actors.Tracing;
using ActorVmm.Actors.Vm;
using Akka.Actor;
using Akka.Configuration;

namespace ActorVmm.Bench;

/// <summary>
/// Exits per second through the actor path alone (no KVM): a recorded-style exit stream played by a
/// <see cref="ReplayVcpu"/> into a real VM actor (vCPU actor, bus, device endpoints, inline devices), with tracing
/// off, statistics only, and statistics plus a full trace to a file (jsonl and Chrome), same stream, in one run.
/// Modes are interleaved over several rounds; the median round is reported.
/// </summary>
internal static class ReplayBench
{
    private const ushort DataPort = 0x60;
    private const ushort StatusPort = 0x64;
    private const ulong MmioBase = 0xd000_0000;

    public static int Run(string[] args)
    {
        var exits = 2_000_000;
        var rounds = 5;
        string? traceFile = null;
        for (var i = 0; i < args.Length - 1; i++)
        {
            switch (args[i])
            {
                case "--exits":
                    exits = int.Parse(args[i + 1]);
                    break;
                case "--rounds":
                    rounds = int.Parse(args[i + 1]);
                    break;
                case "--trace":
                    traceFile = args[i + 1];
                    break;
            }
        }

        // With --trace, replay the PIO/MMIO exits of vcpu0 from a saved trace instead of the synthetic stream.
        var stream = traceFile is null ? Synthetic(exits) : [.. TraceFile.Read(traceFile).Events.Where(e => e.Vcpu == 0 && e.Kind.IsAccess()).OrderBy(e => e.TimeNs)];
        var config = ConfigurationFactory.ParseString("akka.loglevel = WARNING\nakka.stdout-loglevel = WARNING\n");
        using var system = ActorSystem.Create("bench", config);
        var dir = Path.Combine(Path.GetTempPath(), "actorvmm-replay-bench");
        Directory.CreateDirectory(dir);

        Console.WriteLine($"ActorVmm replay benchmark: {Environment.ProcessorCount} cores, .NET {Environment.Version}, {stream.Length:N0} exits per run, {rounds} rounds (median shown)");
        var modes = new (string Name, Func<VmTracer?> Tracer)[]
        {
            ("tracing off", () => null),
            ("statistics only", () => new VmTracer(statistics: true)),
            ("statistics + jsonl trace", () => new VmTracer(true, JsonlTraceWriter.Create(Path.Combine(dir, "bench.jsonl"), "bench"), 1 << 20)),
            ("statistics + chrome trace", () => new VmTracer(true, ChromeTraceWriter.Create(Path.Combine(dir, "bench.json"), "bench"), 1 << 20)),
        };

        // Warm-up: JIT and tiering for every mode.
        foreach (var mode in modes)
        {
            RunOnce(system, stream[..Math.Min(stream.Length, 200_000)], mode.Tracer());
        }

        var results = modes.Select(_ => new List<(double Rate, long Dropped)>()).ToArray();
        for (var round = 0; round < rounds; round++)
        {
            for (var m = 0; m < modes.Length; m++)
            {
                results[m].Add(RunOnce(system, stream, modes[m].Tracer()));
            }
        }

        var baseline = Median(results[0].Select(r => r.Rate));
        Console.WriteLine($"{"mode",-28} {"exits/s",14} {"cost vs off",12} {"dropped",10}");
        for (var m = 0; m < modes.Length; m++)
        {
            var rate = Median(results[m].Select(r => r.Rate));
            var cost = m == 0 ? "-" : $"{(baseline - rate) / baseline * 100:0.0}%";
            Console.WriteLine($"{modes[m].Name,-28} {rate,14:N0} {cost,12} {results[m].Max(r => r.Dropped),10:N0}");
        }

        var jsonl = new FileInfo(Path.Combine(dir, "bench.jsonl"));
        Console.WriteLine($"(trace files: {jsonl.FullName} {jsonl.Length / 1e6:0.0} MB)");
        return 0;
    }

    private static (double Rate, long Dropped) RunOnce(ActorSystem system, TraceEvent[] stream, VmTracer? tracer)
    {
        var vcpu = new ReplayVcpu(0, stream);
        var blueprint = new VmBlueprint(
            "bench",
            [vcpu],
            [
                new DeviceBlueprint("i8042", _ => new TrivialDevice("i8042"), [BusRange.Pio(DataPort, 1), BusRange.Pio(StatusPort, 1)]),
                new DeviceBlueprint("mmio", _ => new TrivialDevice("mmio"), [BusRange.Mmio(MmioBase, 0x1000)]),
            ],
            new InMemoryIrqChip(),
            new DeviceSettings(TimeSpan.FromSeconds(5)),
            new SupervisionSettings(10, TimeSpan.FromMinutes(1), RestartStateSource.Saved, BudgetExceededPolicy.StopVm,
                new Dictionary<string, SupervisionAction> { ["default"] = SupervisionAction.Restart }))
        {
            Tracer = tracer,
        };
        var vm = VmActor.Spawn(system, blueprint, $"bench-{Guid.NewGuid():N}");

        // Time the vCPU thread's part only: from its first exit to the last (ReplayVcpu.Finished), not VM start/stop.
        var sw = Stopwatch.StartNew();
        while (vcpu.Played == 0)
        {
            Thread.SpinWait(10);
        }

        sw.Restart();
        var startPlayed = vcpu.Played;
        vcpu.Finished.GetAwaiter().GetResult();
        var elapsed = sw.Elapsed.TotalSeconds;
        vm.Stopped.GetAwaiter().GetResult();
        tracer?.CompleteAsync().GetAwaiter().GetResult();
        if (vcpu.Mismatches.Count > 0 && vcpu.Mismatches.Count != stream.Count(e => e.Kind.IsRead()))
        {
            Console.Error.WriteLine($"warning: {vcpu.Mismatches.Count} read mismatches");
        }

        return ((stream.Length - startPlayed) / elapsed, tracer?.Dropped ?? 0);
    }

    /// <summary>A keyboard-controller-like loop: status poll, data read/write, and an MMIO register pair.</summary>
    private static TraceEvent[] Synthetic(int n)
    {
        var events = new TraceEvent[n];
        for (var i = 0; i < n; i++)
        {
            events[i] = (i % 4) switch
            {
                0 => new TraceEvent { Kind = TraceEventKind.PioIn, Address = StatusPort, Size = 1 },
                1 => new TraceEvent { Kind = TraceEventKind.PioOut, Address = DataPort, Size = 1, Value = (ulong)(i & 0xff) },
                2 => new TraceEvent { Kind = TraceEventKind.MmioWrite, Address = MmioBase + 0x10, Size = 4, Value = (ulong)i },
                _ => new TraceEvent { Kind = TraceEventKind.MmioRead, Address = MmioBase + 0x14, Size = 4 },
            };
        }

        return events;
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted[sorted.Length / 2];
    }
}
