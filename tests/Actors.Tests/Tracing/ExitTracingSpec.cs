using System.Text.Json;
using ActorVmm.Actors;
using ActorVmm.Actors.Bus;
using ActorVmm.Actors.Tracing;
using ActorVmm.Actors.Vm;
using ActorVmm.Host.Cli;
using ActorVmm.Host.Tracing;
using ActorVmm.Kvm;
using ActorVmm.TestSupport.Fakes;
using Akka.TestKit.Xunit2;
using Xunit;
using static ActorVmm.Actors.Tests.Tracing.TracingFixture;

namespace ActorVmm.Actors.Tests.Tracing;

public class ExitTracingSpec : TestKit
{
    private static (TraceEventKind Kind, ulong Address, int Size, ulong Value, string Device, AccessPath Path, ulong Range) Shape(TraceEvent e) =>
        (e.Kind, e.Address, e.Size, e.Value, e.Device, e.Path, e.RangeStart);

    /// <summary>
    /// vcpu1 runs the script without its HLT; vcpu0 halts (stopping the VM) only once vcpu1 is done, so vcpu1 ends
    /// with one interrupted exit (the stop's kick): 8 exits each.
    /// </summary>
    private static List<IVcpu> TwoVcpus()
    {
        var vcpu1 = new ScriptedVcpu(1)
            .Then(new VmExit(VmExitKind.IoOut, PostPort, 1), [0x2a])
            .Then(new VmExit(VmExitKind.IoIn, PostPort, 1))
            .Then(new VmExit(VmExitKind.IoOut, IrqPort, 1), [0x07])
            .Then(new VmExit(VmExitKind.MmioWrite, MmioBase + 0x10, 4), [1, 2, 3, 4])
            .Then(new VmExit(VmExitKind.MmioRead, MmioBase + 0x10, 4))
            .Then(new VmExit(VmExitKind.IoOut, UnclaimedPort, 1), [0x5a])
            .Then(new VmExit(VmExitKind.IoIn, UnclaimedPort, 1));
        var vcpu0 = Script(0);
        vcpu0.BeforeExit = exit =>
        {
            if (exit.Kind == VmExitKind.Hlt)
            {
                vcpu1.Idle.Wait(Generous);
            }
        };
        return [vcpu0, vcpu1];
    }

    [Fact]
    public async Task Trace_of_a_scripted_exit_stream_should_hold_exactly_the_expected_exits_and_interrupts()
    {
        var file = TempFile(".jsonl");
        var tracer = new VmTracer(statistics: false, JsonlTraceWriter.Create(file, "traced"));
        var vcpu = new ScriptedVcpu(0);

        var reason = await RunAsync(Sys, Blueprint([vcpu], tracer), () => Feed(vcpu));

        Assert.Equal(VmStopReasonKind.PowerOff, reason.Kind);
        var trace = TraceFile.Read(file);
        Assert.Equal("traced", trace.Vm);
        Assert.Equal(TraceFileFormat.Jsonl, trace.Format);
        var exits = trace.Events.Where(e => e.Kind.IsExit()).OrderBy(e => e.TimeNs).ToList();
        Assert.Equal(
            [
                (TraceEventKind.PioOut, 0x80UL, 1, 0x2aUL, "post", AccessPath.Inline, 0x80UL),
                (TraceEventKind.PioIn, 0x80UL, 1, 0x2aUL, "post", AccessPath.Inline, 0x80UL),
                (TraceEventKind.PioOut, 0x70UL, 1, 0x07UL, "irqdev", AccessPath.Inline, 0x70UL),
                (TraceEventKind.MmioWrite, MmioBase + 0x10, 4, 0x04030201UL, "mmio", AccessPath.Inline, MmioBase),
                (TraceEventKind.MmioRead, MmioBase + 0x10, 4, 0x04030201UL, "mmio", AccessPath.Inline, MmioBase),
                (TraceEventKind.PioOut, 0x99UL, 1, 0x5aUL, TraceNames.Unclaimed, AccessPath.Unclaimed, 0x99UL),
                (TraceEventKind.PioIn, 0x99UL, 1, 0xffUL, TraceNames.Unclaimed, AccessPath.Unclaimed, 0x99UL),
                (TraceEventKind.Hlt, 0UL, 0, 0UL, TraceNames.NoDevice, AccessPath.None, 0UL),
            ],
            exits.Select(Shape).ToList());
        Assert.All(exits, e => Assert.Equal(0, e.Vcpu));
        Assert.All(exits, e => Assert.Equal(0, e.QueuedNs));
        Assert.All(exits, e => Assert.True(e.DurationNs >= 0));
        var irq = Assert.Single(trace.Events, e => e.Kind == TraceEventKind.Interrupt);
        Assert.Equal((ulong)Gsi, irq.Address);
        Assert.Equal("irqdev", irq.Device);
        Assert.Equal(0, trace.Dropped);
    }

    [Fact]
    public async Task Accesses_through_the_device_actor_should_be_traced_as_posted_and_the_others_as_inline()
    {
        var file = TempFile(".jsonl");
        var tracer = new VmTracer(statistics: true, JsonlTraceWriter.Create(file, "traced"));
        var devices = TracingFixture.Devices().Select(d => d.Name == "post" ? d with { Inline = false } : d).ToList();

        var reason = await RunAsync(Sys, Blueprint([Script()], tracer, devices));

        Assert.Equal(VmStopReasonKind.PowerOff, reason.Kind);
        var exits = TraceFile.Read(file).Events.Where(e => e.Kind.IsAccess()).OrderBy(e => e.TimeNs).ToList();
        Assert.Equal(
            [
                ("post", AccessPath.Posted, 0x2aUL),
                ("post", AccessPath.Posted, 0x2aUL),
                ("irqdev", AccessPath.Inline, 0x07UL),
                ("mmio", AccessPath.Inline, 0x04030201UL),
                ("mmio", AccessPath.Inline, 0x04030201UL),
                (TraceNames.Unclaimed, AccessPath.Unclaimed, 0x5aUL),
                (TraceNames.Unclaimed, AccessPath.Unclaimed, 0xffUL),
            ],
            exits.Select(e => (e.Device, e.Path, e.Value)).ToList());
        Assert.All(exits, e => Assert.InRange(e.QueuedNs, 0, e.DurationNs));
    }

    [Fact]
    public async Task A_paused_tracer_should_neither_count_nor_record_exits_until_resumed()
    {
        var file = TempFile(".jsonl");
        var tracer = new VmTracer(statistics: true, JsonlTraceWriter.Create(file, "traced"));
        var vcpu = Script();
        // Paused from the MMIO write (inclusive) to the unclaimed port's out (exclusive): the two MMIO exits go untraced.
        vcpu.BeforeExit = exit =>
        {
            if (exit.Kind == VmExitKind.MmioWrite)
            {
                tracer.Paused = true;
            }
            else if (exit.Kind == VmExitKind.IoOut && exit.Port == UnclaimedPort)
            {
                tracer.Paused = false;
            }
        };

        var reason = await RunAsync(Sys, Blueprint([vcpu], tracer));

        Assert.Equal(VmStopReasonKind.PowerOff, reason.Kind);
        Assert.False(tracer.Paused);
        var stats = tracer.Statistics();
        Assert.Equal(6, stats.TotalExits);
        var byDevice = StatsReport.ByDevice(stats).ToDictionary(r => r.Event, r => r.Cell.Count);
        Assert.Equal(new Dictionary<string, long> { ["post"] = 2, ["irqdev"] = 1, ["unclaimed"] = 2 }, byDevice);
        var exits = TraceFile.Read(file).Events.Where(e => e.Kind.IsExit()).OrderBy(e => e.TimeNs).Select(e => (e.Kind, e.Address)).ToList();
        Assert.Equal(
            [
                (TraceEventKind.PioOut, 0x80UL),
                (TraceEventKind.PioIn, 0x80UL),
                (TraceEventKind.PioOut, 0x70UL),
                (TraceEventKind.PioOut, 0x99UL),
                (TraceEventKind.PioIn, 0x99UL),
                (TraceEventKind.Hlt, 0UL),
            ],
            exits);
        // Interrupts are not exits: pausing does not hide them.
        Assert.Equal(1, stats.Interrupts[(Gsi, "irqdev")]);
    }

    [Fact]
    public async Task Statistics_should_count_exits_by_reason_device_range_and_vcpu()
    {
        var tracer = new VmTracer(statistics: true);

        await RunAsync(Sys, Blueprint(TwoVcpus(), tracer));

        var stats = tracer.Statistics();
        Assert.Equal(16, stats.TotalExits);
        var byReason = StatsReport.ByReason(stats).ToDictionary(r => r.Event, r => r.Cell.Count);
        Assert.Equal(new Dictionary<string, long> { ["pio_out"] = 6, ["pio_in"] = 4, ["mmio_write"] = 2, ["mmio_read"] = 2, ["hlt"] = 1, ["interrupted"] = 1 }, byReason);
        var byDevice = StatsReport.ByDevice(stats).ToDictionary(r => r.Event, r => r.Cell.Count);
        Assert.Equal(new Dictionary<string, long> { ["post"] = 4, ["irqdev"] = 2, ["mmio"] = 4, ["unclaimed"] = 4 }, byDevice);
        var byVcpu = StatsReport.ByVcpu(stats).ToDictionary(r => r.Event, r => r.Cell.Count);
        Assert.Equal(new Dictionary<string, long> { ["vcpu0"] = 8, ["vcpu1"] = 8 }, byVcpu);
        var byRange = StatsReport.ByRange(stats).ToDictionary(r => r.Event, r => r.Cell.Count);
        Assert.Equal(4, byRange["mmio 0xd0000000 mmio"]);
        Assert.Equal(4, byRange["pio 0x99 unclaimed"]);
        Assert.Equal(2, stats.Interrupts[(Gsi, "irqdev")]);

        var text = new StringWriter();
        StatsReport.Write(stats, text);
        var lines = text.ToString().Split('\n');
        Assert.Contains(lines, l => l.Contains("pio_out") && l.Contains(" 6 ") && l.Contains("37.50%"));
        Assert.DoesNotContain("\u001b[", text.ToString());
    }

    [Fact]
    public async Task Statistics_with_sampled_latency_should_still_count_every_exit()
    {
        var tracer = new VmTracer(statistics: true, latencySampleInterval: 3);

        await RunAsync(Sys, Blueprint(TwoVcpus(), tracer));

        var stats = tracer.Statistics();
        Assert.Equal(16, stats.TotalExits);
        var byReason = StatsReport.ByReason(stats).ToDictionary(r => r.Event, r => r.Cell.Count);
        Assert.Equal(new Dictionary<string, long> { ["pio_out"] = 6, ["pio_in"] = 4, ["mmio_write"] = 2, ["mmio_read"] = 2, ["hlt"] = 1, ["interrupted"] = 1 }, byReason);
        var timed = stats.Cells.Values.Sum(c => c.TimedCount);
        Assert.InRange(timed, 2, 15); // each vCPU times its first exit; about one in three after that
        Assert.Equal(3, stats.LatencySampleInterval);
    }

    [Fact]
    public async Task Chrome_trace_should_parse_and_show_vcpu_and_device_tracks_with_exit_slices_and_interrupts()
    {
        var file = TempFile(".json");
        var tracer = new VmTracer(statistics: false, ChromeTraceWriter.Create(file, "traced"));

        await RunAsync(Sys, Blueprint([Script()], tracer));

        using var doc = JsonDocument.Parse(File.ReadAllText(file));
        var events = doc.RootElement.GetProperty("traceEvents").EnumerateArray().ToList();
        string Str(JsonElement e, string name) => e.TryGetProperty(name, out var p) ? p.GetString() ?? string.Empty : string.Empty;
        var threads = events.Where(e => Str(e, "ph") == "M" && Str(e, "name") == "thread_name")
            .ToDictionary(e => e.GetProperty("args").GetProperty("name").GetString()!, e => e.GetProperty("tid").GetInt32());
        // Unclaimed accesses ran on no device: no track for them.
        Assert.Equal(["irqdev", "mmio", "post", "vcpu0"], threads.Keys.Order().ToList());
        Assert.Equal(1, threads["vcpu0"]);
        Assert.Contains(events, e => Str(e, "ph") == "M" && Str(e, "name") == "process_name" && e.GetProperty("args").GetProperty("name").GetString() == "traced");

        var slices = events.Where(e => Str(e, "ph") == "X" && Str(e, "cat") == "exit").ToList();
        Assert.Equal(8, slices.Count);
        Assert.All(slices, s => Assert.Equal(1, s.GetProperty("tid").GetInt32()));
        Assert.All(slices, s => Assert.True(s.GetProperty("dur").GetDouble() >= 0));
        Assert.Equal(["pio_out", "pio_in", "pio_out", "mmio_write", "mmio_read", "pio_out", "pio_in", "hlt"],
            slices.OrderBy(s => s.GetProperty("ts").GetDouble()).Select(s => Str(s, "name")).ToList());

        // Inline device accesses also show on the device's track.
        var deviceSlices = events.Where(e => Str(e, "cat") == "device").GroupBy(e => e.GetProperty("tid").GetInt32()).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(2, deviceSlices[threads["post"]]);
        Assert.Equal(2, deviceSlices[threads["mmio"]]);

        var irq = Assert.Single(events, e => Str(e, "ph") == "i" && Str(e, "cat") == "irq");
        Assert.Equal(threads["irqdev"], irq.GetProperty("tid").GetInt32());
        Assert.Equal(0, doc.RootElement.GetProperty("otherData").GetProperty("dropped").GetInt64());

        // And it reads back into the same events as jsonl would give.
        Assert.Equal(8, TraceFile.Read(file).Events.Count(e => e.Kind.IsExit()));
    }

    [Fact]
    public async Task Jsonl_trace_should_round_trip_through_trace_summarize_to_the_live_statistics()
    {
        var file = TempFile(".jsonl");
        var tracer = new VmTracer(statistics: true, JsonlTraceWriter.Create(file, "traced"));
        await RunAsync(Sys, Blueprint(TwoVcpus(), tracer));
        var live = tracer.Statistics();

        var offline = TraceFile.Read(file).Statistics();
        Assert.Equal(
            live.Cells.ToDictionary(c => c.Key, c => (c.Value.Count, c.Value.TotalNs, c.Value.MaxNs)),
            offline.Cells.ToDictionary(c => c.Key, c => (c.Value.Count, c.Value.TotalNs, c.Value.MaxNs)));
        Assert.Equal(live.Interrupts, offline.Interrupts);

        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = CliApp.Run(["trace", "summarize", file], stdout: stdout, stderr: stderr);
        Assert.Equal(0, code);
        var expected = new StringWriter();
        StatsReport.Write(live, expected);
        var tableLines = (string s) => s.Split('\n').Where(l => l.Contains("us ") || l.Contains("vcpu") || l.Contains("irqdev")).ToList();
        Assert.Equal(tableLines(expected.ToString()), tableLines(stdout.ToString()));
        Assert.Contains("pio_out", stdout.ToString());
    }

    [Fact]
    public async Task A_slow_writer_should_drop_and_count_events_without_blocking_the_vcpu()
    {
        using var gate = new ManualResetEventSlim(false);
        var writer = new BlockingWriter(gate);
        var tracer = new VmTracer(statistics: true, writer, buffer: 4);
        var bus = new BusBuilder().Build();
        var vcpu = tracer.ForVcpu(0, bus);

        for (var i = 0; i < 100; i++)
        {
            vcpu.BeginExit();
            vcpu.Exit(new VmExit(VmExitKind.IoOut, 0x99, 1), [(byte)i], 0, 10);
        }

        vcpu.Flush();

        // All 100 returned while the writer was stuck: at most 4 buffered + 1 in the writer's hands.
        var dropped = tracer.Dropped;
        Assert.InRange(dropped, 95, 96);
        gate.Set();
        await tracer.CompleteAsync().WaitAsync(Generous);
        Assert.Equal(100, writer.Written + tracer.Dropped);
        Assert.Equal(tracer.Dropped, writer.DroppedAtFinish);
        Assert.Equal(100, tracer.Statistics().TotalExits);
        Assert.Equal(dropped, tracer.Statistics().Dropped);
    }

    [Fact]
    public void Trace_summarize_should_reject_a_file_that_is_not_a_trace_with_one_line_and_exit_2()
    {
        var file = TempFile(".json");
        File.WriteAllText(file, "{\"not\": \"a trace\"");
        var stderr = new StringWriter();

        var code = CliApp.Run(["trace", "summarize", file], stdout: new StringWriter(), stderr: stderr);

        Assert.Equal(2, code);
        Assert.Single(stderr.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("actorvmm: not a trace file", stderr.ToString());
        Assert.Equal(2, CliApp.Run(["trace", "summarize", TempFile(".missing")], stdout: new StringWriter(), stderr: new StringWriter()));
    }

    [Fact]
    public async Task Trace_report_should_write_a_self_contained_html_page_with_tables_and_charts()
    {
        var file = TempFile(".jsonl");
        var html = TempFile(".html");
        var tracer = new VmTracer(statistics: false, JsonlTraceWriter.Create(file, "traced"));
        await RunAsync(Sys, Blueprint([Script()], tracer));

        var code = CliApp.Run(["trace", "report", file, "--html", html], stdout: new StringWriter(), stderr: new StringWriter());

        Assert.Equal(0, code);
        var page = File.ReadAllText(html);
        Assert.StartsWith("<!DOCTYPE html>", page);
        Assert.Contains("<table>", page);
        Assert.Contains("id=\"rate-chart\"", page);
        Assert.Equal(4, page.Split("class=\"histogram\"").Length - 1); // post, irqdev, mmio, unclaimed
        Assert.DoesNotContain("<script src", page);
        Assert.DoesNotContain("<link", page);
        Assert.DoesNotContain("https://", page);
    }

    [Fact]
    public async Task Device_failures_and_restarts_should_be_traced_and_counted()
    {
        var file = TempFile(".jsonl");
        var tracer = new VmTracer(statistics: true, JsonlTraceWriter.Create(file, "traced"));
        // Reads: the vCPU waits for each answer, so the second one is served by the restarted device.
        var vcpu = new ScriptedVcpu(0)
            .Then(new VmExit(VmExitKind.IoIn, PostPort, 1))
            .Then(new VmExit(VmExitKind.IoIn, PostPort, 1))
            .Then(new VmExit(VmExitKind.Hlt));
        var devices = TracingFixture.Devices(post: () => new ThrowingDevice());

        await RunAsync(Sys, Blueprint([vcpu], tracer, devices));

        var stats = tracer.Statistics();
        Assert.True(stats.DeviceEvents.GetValueOrDefault(("post", "InvalidOperationException")) >= 1);
        Assert.True(stats.DeviceEvents.GetValueOrDefault(("post", "restart")) >= 1);
        var trace = TraceFile.Read(file);
        Assert.Contains(trace.Events, e => e.Kind == TraceEventKind.Fault && e.Device == "post" && e.Detail == "InvalidOperationException");
        Assert.Contains(trace.Events, e => e.Kind == TraceEventKind.Restart && e.Device == "post");
    }

    private sealed class ThrowingDevice : ActorVmm.Devices.IBusDevice
    {
        public string Name => "post";

        public void Read(ulong offset, Span<byte> data) => throw new InvalidOperationException("boom");

        public void Write(ulong offset, ReadOnlySpan<byte> data) => throw new InvalidOperationException("boom");
    }

    private sealed class BlockingWriter(ManualResetEventSlim gate) : ITraceEventWriter
    {
        public int Written;

        public long DroppedAtFinish = -1;

        public void Write(in TraceEvent e)
        {
            gate.Wait();
            Written++;
        }

        public ValueTask FinishAsync(long dropped)
        {
            DroppedAtFinish = dropped;
            return ValueTask.CompletedTask;
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
