using System.Diagnostics;
using ActorVmm.Actors.Bus;
using ActorVmm.Actors.Irq;
using ActorVmm.Actors.Settings;
using ActorVmm.Host.Settings;
using ActorVmm.Actors.Tracing;
using ActorVmm.Host.Tracing;
using ActorVmm.Actors.Vm;
using ActorVmm.Devices.Legacy;
using ActorVmm.Kvm;
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
    private const ushort DataPort = Layout.I8042Port;
    private const ushort StatusPort = Layout.I8042Port + (ushort)I8042.StatusOffset;
    private const ulong MmioBase = 0xd000_0000;

    public static int Run(string[] args)
    {
        var exits = 1_000_000;
        var clockOnly = args.Contains("--clock-only");
        var rounds = 9;
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

        var modes = TracingModes.Standard(Path.Combine(dir, "bench.jsonl"), Path.Combine(dir, "bench.json"), 1 << 20, clockOnly);
        Console.WriteLine($"ActorVmm replay benchmark: {Environment.ProcessorCount} cores, .NET {Environment.Version}, {stream.Length:N0} exits per run, {rounds} rounds of {modes.Length} modes, order rotated per round; load average {KvmExitBench.LoadAverage()}");
        var results = TracingModes.Run(
            modes,
            rounds,
            mode => RunOnce(system, stream[..Math.Min(stream.Length, 200_000)], mode.Tracer()),
            mode => RunOnce(system, stream, mode.Tracer()));
        TracingModes.Print(modes, results, Console.Out);
        var jsonl = new FileInfo(Path.Combine(dir, "bench.jsonl"));
        Console.WriteLine($"(trace files: {jsonl.FullName} {jsonl.Length / 1e6:0.0} MB; load average at the end {KvmExitBench.LoadAverage()})");
        return 0;
    }

    private static ModeRun RunOnce(ActorSystem system, TraceEvent[] stream, VmTracer? tracer)
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

        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        sw.Restart();
        var startPlayed = vcpu.Played;
        vcpu.Finished.GetAwaiter().GetResult();
        var elapsed = sw.Elapsed.TotalSeconds;
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        vm.Stopped.GetAwaiter().GetResult();
        tracer?.CompleteAsync().GetAwaiter().GetResult();
        if (vcpu.MismatchCount > 0)
        {
            Console.Error.WriteLine($"warning: {vcpu.MismatchCount} read mismatches, first: {vcpu.Mismatches[0]}");
        }

        return new ModeRun((stream.Length - startPlayed) / elapsed, tracer?.Dropped ?? 0, (double)allocated / (stream.Length - startPlayed));
    }

    /// <summary>
    /// A keyboard-controller-like loop: status poll, data write, and an MMIO register write/read pair. The reads
    /// carry what the <see cref="TrivialDevice"/>s answer (the last byte written, 0x5a at first), so the replay
    /// checks pass.
    /// </summary>
    private static TraceEvent[] Synthetic(int n)
    {
        var events = new TraceEvent[n];
        for (var i = 0; i < n; i++)
        {
            events[i] = (i % 4) switch
            {
                0 => new TraceEvent { Kind = TraceEventKind.PioIn, Address = StatusPort, Size = 1, Value = i < 4 ? 0x5aUL : (ulong)((i - 3) & 0xff) },
                1 => new TraceEvent { Kind = TraceEventKind.PioOut, Address = DataPort, Size = 1, Value = (ulong)(i & 0xff) },
                2 => new TraceEvent { Kind = TraceEventKind.MmioWrite, Address = MmioBase + 0x10, Size = 4, Value = (ulong)i },
                _ => new TraceEvent { Kind = TraceEventKind.MmioRead, Address = MmioBase + 0x14, Size = 4, Value = (ulong)((i - 1) & 0xff) * 0x01010101UL },
            };
        }

        return events;
    }
}
