using ActorVmm.Actors.Bus;
using ActorVmm.Actors.Settings;
using ActorVmm.Host.Settings;
using ActorVmm.Actors.Tracing;
using ActorVmm.Host.Tracing;
using ActorVmm.Kvm;
using ActorVmm.Kvm.Timing;
using Xunit;
using static ActorVmm.Actors.Tests.Tracing.TracingFixture;

namespace ActorVmm.Actors.Tests.Tracing;

public class VcpuTracerSpecs
{
    [Fact]
    public async Task A_guest_sweeping_unclaimed_MMIO_pages_should_not_grow_the_statistics_beyond_the_row_cap()
    {
        var tracer = new VmTracer(statistics: true);
        var vcpu = tracer.ForVcpu(0, new BusBuilder().Build());
        const int pages = 5000;

        for (var i = 0; i < pages; i++)
        {
            vcpu.BeginExit();
            vcpu.Exit(new VmExit(VmExitKind.MmioRead, 0x1_0000_0000UL + ((ulong)i << 12), 4), new byte[4], 0, 10);
        }

        vcpu.Flush();

        await tracer.CompleteAsync();
        var stats = tracer.Statistics();
        Assert.Equal(pages, stats.TotalExits);
        Assert.Equal(ExitStatistics.MaxUnclaimedRows + 1, stats.Cells.Count);
        var other = Assert.Single(stats.Cells, c => c.Key.RangeStart == ExitStatistics.OtherRanges);
        Assert.Equal(pages - ExitStatistics.MaxUnclaimedRows, other.Value.Count);
        Assert.All(stats.Cells.Keys, k => Assert.Equal(TraceNames.Unclaimed, k.Device));
        var table = new StringWriter();
        StatsReport.Write(stats, table);
        Assert.Contains("mmio other unclaimed", table.ToString());
    }

    [Fact]
    public async Task Exits_should_reach_the_trace_exactly_and_in_order_across_ring_wraparound_with_drops_counted()
    {
        var file = TempFile(".jsonl");
        var tracer = new VmTracer(statistics: true, JsonlTraceWriter.Create(file, "ring"), buffer: 1024);
        var bus = new BusBuilder().Build();
        var vcpu = tracer.ForVcpu(3, bus);
        const int exits = 20_000;

        for (var i = 0; i < exits; i++)
        {
            vcpu.BeginExit();
            var size = i % 3 == 0 ? 4 : 1;
            var data = BitConverter.GetBytes(i)[..size];
            // Exit i starts i µs after the tracer's origin and takes 7-11 µs (in the tracer's clock ticks).
            var start = tracer.OriginTicks + Ticks(1000.0 * i);
            vcpu.Exit(new VmExit(VmExitKind.IoOut, 0x3f8, size), data, start, start + Ticks(1000.0 * (7 + i % 5)));
            if (i % 4096 == 0)
            {
                Thread.Sleep(20); // let the writer drain: some chunks overflow the 1 Ki ring, others do not
            }
        }

        vcpu.Flush();
        await tracer.CompleteAsync().WaitAsync(Generous);
        var trace = TraceFile.Read(file);
        var events = trace.Events;
        Assert.Equal(exits, events.Count + trace.Dropped);
        Assert.Equal(tracer.Dropped, trace.Dropped);
        Assert.True(events.Count >= 1024, $"only {events.Count} events written");
        Assert.Equal(exits, tracer.Statistics().TotalExits);

        var previous = -1L;
        foreach (var e in events)
        {
            var i = (long)Math.Round(e.TimeNs / 1000.0);
            Assert.True(i > previous, "events out of order");
            previous = i;
            Assert.Equal(TraceEventKind.PioOut, e.Kind);
            Assert.Equal(3, e.Vcpu);
            Assert.Equal(0x3f8UL, e.Address);
            Assert.Equal(i % 3 == 0 ? 4 : 1, e.Size);
            Assert.Equal(i % 3 == 0 ? (ulong)i : (ulong)(i & 0xff), e.Value);
            Assert.InRange(e.DurationNs, 1000 * (7 + i % 5) - 1, 1000 * (7 + i % 5) + 1);
            Assert.Equal(TraceNames.Unclaimed, e.Device);
            Assert.Equal(AccessPath.Unclaimed, e.Path);
        }
    }

    [Fact]
    public void Statistics_should_be_exact_across_buffer_flushes_and_route_cache_evictions()
    {
        var tracer = new VmTracer(statistics: true);
        var vcpu = tracer.ForVcpu(0, new BusBuilder().Build());
        const int ports = 200; // more than the route cache holds: slots are evicted with times still buffered
        const int exits = 20_000;
        var expectedNs = new long[ports];

        for (var i = 0; i < exits; i++)
        {
            var port = (ushort)(0x1000 + (i * 7 % ports));
            var ticks = Ticks(100.0 * (1 + i % 13));
            expectedNs[port - 0x1000] += (long)(ticks * CycleClock.NanosecondsPerTick);
            vcpu.BeginExit();
            vcpu.Exit(new VmExit(VmExitKind.IoIn, port, 1), [0], 5000, 5000 + ticks);
        }

        vcpu.Flush();
        var cells = tracer.Statistics().Cells;
        Assert.Equal(ports, cells.Count);
        for (var p = 0; p < ports; p++)
        {
            var cell = cells[new StatKey(TraceEventKind.PioIn, TraceNames.Unclaimed, (ulong)(0x1000 + p))];
            Assert.Equal(exits / ports, cell.Count);
            Assert.Equal(expectedNs[p], cell.TotalNs);
        }
    }

    [Fact]
    public void Every_exit_kind_should_map_to_the_trace_kind_of_its_reason()
    {
        var expected = new Dictionary<VmExitKind, TraceEventKind>
        {
            [VmExitKind.IoIn] = TraceEventKind.PioIn,
            [VmExitKind.IoOut] = TraceEventKind.PioOut,
            [VmExitKind.MmioRead] = TraceEventKind.MmioRead,
            [VmExitKind.MmioWrite] = TraceEventKind.MmioWrite,
            [VmExitKind.Hlt] = TraceEventKind.Hlt,
            [VmExitKind.Shutdown] = TraceEventKind.Shutdown,
            [VmExitKind.SystemEvent] = TraceEventKind.SystemEvent,
            [VmExitKind.InternalError] = TraceEventKind.InternalError,
            [VmExitKind.FailEntry] = TraceEventKind.FailEntry,
            [VmExitKind.Interrupted] = TraceEventKind.Interrupted,
            [VmExitKind.Unknown] = TraceEventKind.Unknown,
        };

        Assert.Equal(Enum.GetValues<VmExitKind>().Order(), expected.Keys.Order());
        Assert.All(expected, pair => Assert.Equal(pair.Value, VcpuTracer.KindOf(pair.Key)));
        Assert.Equal(TraceEventKind.Unknown, VcpuTracer.KindOf((VmExitKind)200));
        Assert.Equal(TraceEventKind.Unknown, VcpuTracer.KindOf((VmExitKind)(-1)));
    }

    [Fact]
    public void Sampled_latency_should_count_every_exit_and_time_about_one_in_the_interval()
    {
        var tracer = new VmTracer(statistics: true, latencySampleInterval: 8);
        var vcpu = tracer.ForVcpu(0, new BusBuilder().Build());
        const int exits = 16_000;
        var timed = 0;
        var ticks = Ticks(2000);

        for (var i = 0; i < exits; i++)
        {
            var exit = new VmExit(i % 2 == 0 ? VmExitKind.IoOut : VmExitKind.IoIn, 0x510, 1);
            vcpu.BeginExit();
            if (vcpu.TimeNext())
            {
                timed++;
                vcpu.Exit(exit, [0], 100, 100 + ticks);
            }
            else
            {
                vcpu.ExitUntimed(exit);
            }
        }

        vcpu.Flush();
        var stats = tracer.Statistics();
        Assert.Equal(8, tracer.LatencySampleInterval);
        Assert.Equal(exits, stats.TotalExits);
        var cells = stats.Cells.Values.ToList();
        Assert.Equal(timed, cells.Sum(c => c.TimedCount));
        Assert.InRange(timed, exits / 8 * 3 / 4, exits / 8 * 5 / 4);
        // Random intervals: the alternating out/in pattern does not line up with the sampling.
        Assert.All(cells, c => Assert.InRange(c.TimedCount, timed / 2 * 3 / 4, timed / 2 * 5 / 4));
        Assert.All(cells, c => Assert.Equal((long)(ticks * CycleClock.NanosecondsPerTick), (long)c.MeanNs));
        Assert.All(cells, c => Assert.Equal(c.MeanNs * c.Count, c.EstimatedTotalNs, 3));
        var report = new StringWriter();
        StatsReport.Write(stats, report);
        Assert.Contains("Times from about 1 exit in 8", report.ToString());
        Assert.Contains(" 8000 ", report.ToString());
    }

    [Fact]
    public void Without_sampling_every_exit_should_be_timed()
    {
        var tracer = new VmTracer(statistics: true, latencySampleInterval: 1);
        var vcpu = tracer.ForVcpu(0, new BusBuilder().Build());

        for (var i = 0; i < 1000; i++)
        {
            Assert.True(vcpu.TimeNext());
            vcpu.BeginExit();
            vcpu.Exit(new VmExit(VmExitKind.IoOut, 0x510, 1), [0], 0, 10);
        }

        vcpu.Flush();
        var cell = Assert.Single(tracer.Statistics().Cells.Values);
        Assert.Equal(1000, cell.Count);
        Assert.Equal(1000, cell.TimedCount);
        Assert.DoesNotContain("Times from about", WriteReport(tracer.Statistics()));
    }

    [Fact]
    public async Task A_trace_to_a_file_should_time_every_exit_even_on_a_slow_clock()
    {
        var tracer = new VmTracer(statistics: true, JsonlTraceWriter.Create(TempFile(".jsonl"), "t"), latencySampleInterval: 16);
        await tracer.CompleteAsync();

        Assert.Equal(1, tracer.LatencySampleInterval);
    }

    [Fact]
    public void The_tracing_settings_should_choose_the_latency_sampling()
    {
        var every = TracingSetup.Create(TracingSettings.Default with { Stats = true, LatencySample = 1 }, "vm")!;
        var sampled = TracingSetup.Create(TracingSettings.Default with { Stats = true, LatencySample = 32 }, "vm")!;
        var auto = TracingSetup.Create(TracingSettings.Default with { Stats = true }, "vm")!;

        Assert.Equal(1, every.LatencySampleInterval);
        Assert.Equal(32, sampled.LatencySampleInterval);
        var expected = CycleClock.ReadCostNanoseconds > VmTracer.SlowClockNs || CycleClock.UnderQemuTcg() ? VmTracer.SlowClockSampleInterval : 1;
        Assert.Equal(expected, auto.LatencySampleInterval);
    }

    private static string WriteReport(ExitStatistics stats)
    {
        var text = new StringWriter();
        StatsReport.Write(stats, text);
        return text.ToString();
    }

    /// <summary>Nanoseconds in <see cref="CycleClock"/> ticks.</summary>
    private static long Ticks(double ns) => (long)Math.Round(ns / CycleClock.NanosecondsPerTick);
}
