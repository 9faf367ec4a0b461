using ActorVmm.Actors;
using ActorVmm.Actors.Bus;
using ActorVmm.Actors.Irq;
using ActorVmm.Actors.Settings;
using ActorVmm.Host.Settings;
using ActorVmm.Actors.Tracing;
using ActorVmm.Host.Tracing;
using ActorVmm.Actors.Vm;
using ActorVmm.Devices;
using ActorVmm.Vmm.Tests.Support;
using Akka.Actor;
using Akka.Configuration;
using static Iced.Intel.AssemblerRegisters;

namespace ActorVmm.Vmm.Tests.Tracing;

/// <summary>
/// A real-mode guest with a known exit stream — <see cref="Outs"/> byte writes to a port, <see cref="Ins"/> byte
/// reads from the next one, one 16-bit MMIO write and read, then HLT — runs through the actor VMM with statistics
/// and a trace file (jsonl, Chrome) on. The trace holds exactly those exits with their ports, values and devices;
/// the statistics count the same; and KVM's own per-vCPU counters (KVM_GET_STATS_FD) agree.
/// </summary>
[Trait("Category", "Kvm")]
public sealed class ExitTraceTests
{
    private const int Outs = 100;
    private const int Ins = 50;
    private const ushort OutPort = 0x510;
    private const ushort InPort = 0x511;
    private const ulong MmioBase = 0xD_0000;
    private const ulong MmioOffset = 0x10;
    private const ushort MmioWritten = 0xBEEF;
    private const ushort MmioAnswer = 0x1234;
    private const byte FirstInValue = 0x40;

    [Theory]
    [InlineData(TraceFormat.Jsonl)]
    [InlineData(TraceFormat.Chrome)]
    public async Task Trace_of_a_known_guest_program_should_hold_exactly_its_exits_and_agree_with_KVM_stats(TraceFormat format)
    {
        using var vm = RealModeProgramVm.Create(a =>
        {
            var outs = a.CreateLabel();
            var ins = a.CreateLabel();
            a.mov(cx, Outs);
            a.mov(dx, OutPort);
            a.Label(ref outs);
            a.mov(al, cl);
            a.@out(dx, al);
            a.loop(outs);
            a.mov(cx, Ins);
            a.mov(dx, InPort);
            a.Label(ref ins);
            a.@in(al, dx);
            a.loop(ins);
            a.mov(ax, (ushort)(MmioBase >> 4));
            a.mov(ds, ax);
            a.mov(__word_ptr[(int)MmioOffset], MmioWritten);
            a.mov(bx, __word_ptr[(int)MmioOffset]);
            a.hlt();
        });
        var probe = new ProbeDevice();
        var register = new RegisterDevice();
        using var kvmStats = vm.Vcpu.OpenStats();
        var before = kvmStats.Read();

        var path = TracePath(format == TraceFormat.Jsonl ? "jsonl" : "json");
        var settings = new TracingSettings(Stats: true, TraceFile: path, format, Buffer: 65536);
        var tracer = TracingSetup.Create(settings, "exit-trace");
        Assert.NotNull(tracer);
        var report = new StringWriter();
        VmStopReason reason;
        var system = ActorSystem.Create("exit-trace", ConfigurationFactory.ParseString("akka.loglevel = WARNING\nakka.stdout-loglevel = WARNING"));
        try
        {
            var blueprint = new VmBlueprint(
                "exit-trace",
                [vm.Vcpu],
                [
                    new DeviceBlueprint("probe", _ => probe, [BusRange.Pio(OutPort, 2)]),
                    new DeviceBlueprint("reg", _ => register, [BusRange.Mmio(MmioBase, 0x1000)]),
                ],
                new InMemoryIrqChip(),
                DeviceSettings.Default,
                SupervisionSettings.Default) { Tracer = tracer };
            var handle = VmActor.Spawn(system, blueprint);
            reason = await handle.Stopped.WaitAsync(GuestRun.Deadline, TestContext.Current.CancellationToken);
            await TracingSetup.FinishAsync(tracer, settings, report);
        }
        finally
        {
            await system.Terminate();
        }

        var after = kvmStats.Read();
        var regs = vm.Vcpu.GetRegs();
        var output = TestContext.Current.TestOutputHelper!;
        output.WriteLine(report.ToString());
        output.WriteLine($"KVM stats ({kvmStats.Id}): " + string.Join(", ", after.Where(kv => kv.Value != before.GetValueOrDefault(kv.Key))
            .Select(kv => $"{kv.Key}={kv.Value - before.GetValueOrDefault(kv.Key)}")));

        // The guest ran to its HLT and saw the devices' answers.
        Assert.Equal(VmStopReasonKind.PowerOff, reason.Kind);
        Assert.Equal(MmioAnswer, (ushort)regs.Rbx);
        Assert.Equal(Enumerable.Range(1, Outs).Reverse().Select(i => (byte)i), probe.Written());
        Assert.Equal([(MmioOffset, MmioWritten)], register.Writes());

        // The trace: exactly these exits, in program order, with ports, values and devices.
        var trace = TraceFile.Read(path);
        Assert.Equal(format == TraceFormat.Jsonl ? TraceFileFormat.Jsonl : TraceFileFormat.Chrome, trace.Format);
        Assert.Equal("exit-trace", trace.Vm);
        Assert.Equal(0, trace.Dropped);
        var exits = trace.Events.Where(e => e.Kind.IsExit()).OrderBy(e => e.TimeNs).ToList();
        Assert.Equal(Outs + Ins + 3, exits.Count);
        var pioOut = exits.Where(e => e.Kind == TraceEventKind.PioOut).ToList();
        var pioIn = exits.Where(e => e.Kind == TraceEventKind.PioIn).ToList();
        var mmioWrite = Assert.Single(exits, e => e.Kind == TraceEventKind.MmioWrite);
        var mmioRead = Assert.Single(exits, e => e.Kind == TraceEventKind.MmioRead);
        var hlt = Assert.Single(exits, e => e.Kind == TraceEventKind.Hlt);
        Assert.Equal(Outs, pioOut.Count);
        Assert.Equal(Ins, pioIn.Count);
        Assert.All(pioOut, e => Assert.Equal((OutPort, 1, "probe", (ulong)OutPort), (e.Address, e.Size, e.Device, e.RangeStart)));
        Assert.Equal(Enumerable.Range(1, Outs).Reverse().Select(i => (ulong)i), pioOut.Select(e => e.Value));
        Assert.All(pioIn, e => Assert.Equal((InPort, 1, "probe", (ulong)OutPort), (e.Address, e.Size, e.Device, e.RangeStart)));
        Assert.Equal(Enumerable.Range(0, Ins).Select(i => (ulong)(byte)(FirstInValue + i)), pioIn.Select(e => e.Value));
        Assert.Equal((MmioBase + MmioOffset, 2, (ulong)MmioWritten, "reg"), (mmioWrite.Address, mmioWrite.Size, mmioWrite.Value, mmioWrite.Device));
        Assert.Equal((MmioBase + MmioOffset, 2, (ulong)MmioAnswer, "reg"), (mmioRead.Address, mmioRead.Size, mmioRead.Value, mmioRead.Device));
        Assert.Equal(
            [TraceEventKind.PioOut, TraceEventKind.PioIn, TraceEventKind.MmioWrite, TraceEventKind.MmioRead, TraceEventKind.Hlt],
            exits.Select(e => e.Kind).Distinct());
        Assert.Equal(hlt, exits[^1]);

        // The live statistics and the saved trace's statistics count the same exits.
        var live = tracer.Statistics();
        foreach (var stats in new[] { live, trace.Statistics() })
        {
            Assert.Equal(Outs + Ins + 3, stats.TotalExits);
            Assert.Equal(Outs, Count(stats, TraceEventKind.PioOut, "probe"));
            Assert.Equal(Ins, Count(stats, TraceEventKind.PioIn, "probe"));
            Assert.Equal(1, Count(stats, TraceEventKind.MmioWrite, "reg"));
            Assert.Equal(1, Count(stats, TraceEventKind.MmioRead, "reg"));
            Assert.Equal(1, Count(stats, TraceEventKind.Hlt, TraceNames.NoDevice));
        }

        Assert.Equal(0, live.Dropped);

        // KVM's own per-vCPU counters saw the same exits.
        Assert.Equal((ulong)(Outs + Ins), Delta(before, after, "io_exits"));
        Assert.Equal(2UL, Delta(before, after, "mmio_exits"));
        Assert.Equal(1UL, Delta(before, after, "halt_exits"));
        Assert.True(Delta(before, after, "exits") >= (ulong)(Outs + Ins + 3), "KVM counted fewer exits in total than the trace holds");

        // Kept when an assertion above fails, for a look.
        File.Delete(path);
    }

    private static long Count(ExitStatistics stats, TraceEventKind kind, string device) =>
        stats.Cells.Where(c => c.Key.Kind == kind && c.Key.Device == device).Sum(c => c.Value.Count);

    private static ulong Delta(IReadOnlyDictionary<string, ulong> before, IReadOnlyDictionary<string, ulong> after, string name)
    {
        Assert.True(after.ContainsKey(name), $"KVM has no '{name}' vCPU statistic; it has: {string.Join(", ", after.Keys)}");
        return after[name] - before.GetValueOrDefault(name);
    }

    private static string TracePath(string extension)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (Path.Exists(Path.Combine(dir.FullName, ".git")))
            {
                var traces = Path.Combine(dir.FullName, "artifacts", "traces");
                Directory.CreateDirectory(traces);
                return Path.Combine(traces, $"exit-trace-{Guid.NewGuid():N}.{extension}");
            }
        }

        throw new InvalidOperationException($"no checkout above {AppContext.BaseDirectory}");
    }

    /// <summary>Two ports: writes to the first are recorded, reads of the second answer 0x40, 0x41, ...</summary>
    private sealed class ProbeDevice : IBusDevice
    {
        private readonly Lock _lock = new();
        private readonly List<byte> _written = [];
        private byte _next = FirstInValue;

        public string Name => "probe";

        public void Read(ulong offset, Span<byte> data)
        {
            lock (_lock)
            {
                data.Fill(0xff);
                if (offset == 1 && data.Length == 1)
                {
                    data[0] = _next++;
                }
            }
        }

        public void Write(ulong offset, ReadOnlySpan<byte> data)
        {
            lock (_lock)
            {
                if (offset == 0 && data.Length == 1)
                {
                    _written.Add(data[0]);
                }
            }
        }

        public IReadOnlyList<byte> Written()
        {
            lock (_lock)
            {
                return [.. _written];
            }
        }
    }

    /// <summary>An MMIO page: 16-bit writes are recorded, 16-bit reads answer <see cref="MmioAnswer"/>.</summary>
    private sealed class RegisterDevice : IBusDevice
    {
        private readonly Lock _lock = new();
        private readonly List<(ulong Offset, ushort Value)> _writes = [];

        public string Name => "reg";

        public void Read(ulong offset, Span<byte> data)
        {
            data.Fill(0xff);
            if (data.Length == 2)
            {
                System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(data, MmioAnswer);
            }
        }

        public void Write(ulong offset, ReadOnlySpan<byte> data)
        {
            lock (_lock)
            {
                if (data.Length == 2)
                {
                    _writes.Add((offset, System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(data)));
                }
            }
        }

        public IReadOnlyList<(ulong Offset, ushort Value)> Writes()
        {
            lock (_lock)
            {
                return [.. _writes];
            }
        }
    }
}
