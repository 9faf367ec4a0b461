using ActorVmm.Actors;
using ActorVmm.Actors.Tracing;
using ActorVmm.Actors.Vm;
using ActorVmm.Host.Tracing;
using ActorVmm.TestSupport.Fakes;
using Akka.TestKit.Xunit2;
using Xunit;
using static ActorVmm.Actors.Tests.Tracing.TracingFixture;

namespace ActorVmm.Actors.Tests.Tracing;

public class ReplaySpec : TestKit
{
    private async Task<TraceFile> RecordAsync()
    {
        var file = TempFile(".jsonl");
        var tracer = new VmTracer(statistics: false, JsonlTraceWriter.Create(file, "traced"));
        await RunAsync(Sys, Blueprint([Script()], tracer));
        return TraceFile.Read(file);
    }

    [Fact]
    public async Task Replaying_a_recorded_exit_stream_against_fresh_devices_should_read_back_the_recorded_values()
    {
        var recorded = await RecordAsync();
        var replay = ReplayVcpu.FromTrace(recorded, 0);
        var file = TempFile(".jsonl");
        var tracer = new VmTracer(statistics: false, JsonlTraceWriter.Create(file, "replayed"));

        var reason = await RunAsync(Sys, Blueprint([replay], tracer));

        Assert.Equal(VmStopReasonKind.PowerOff, reason.Kind);
        Assert.True(replay.Finished.IsCompleted);
        Assert.Equal(7, replay.Length);
        Assert.Equal(7, replay.Played);
        Assert.Empty(replay.Mismatches);

        // The replay's own trace has the same accesses as the recording.
        static List<(TraceEventKind, ulong, ulong, string)> Accesses(TraceFile t) =>
            [.. t.Events.Where(e => e.Kind.IsAccess()).OrderBy(e => e.TimeNs).Select(e => (e.Kind, e.Address, e.Value, e.Device))];
        Assert.Equal(Accesses(recorded), Accesses(TraceFile.Read(file)));
    }

    [Fact]
    public async Task Replay_should_report_reads_that_differ_from_the_recording()
    {
        var recorded = await RecordAsync();
        var replay = ReplayVcpu.FromTrace(recorded, 0);

        // A post device that ignores writes and answers 0x55: the IN from port 0x80 no longer reads 0x2a.
        await RunAsync(Sys, Blueprint([replay], tracer: null, TracingFixture.Devices(post: () => new ConstantDevice("post", 0x55))));

        var mismatch = Assert.Single(replay.Mismatches);
        Assert.Equal(TraceEventKind.PioIn, mismatch.Expected.Kind);
        Assert.Equal(0x2aUL, mismatch.Expected.Value);
        Assert.Equal(0x55UL, mismatch.Actual);
    }

    [Fact]
    public void Replay_should_skip_non_access_events_and_end_with_hlt()
    {
        var vcpu = new ReplayVcpu(0,
        [
            new TraceEvent { Kind = TraceEventKind.Interrupted },
            new TraceEvent { Kind = TraceEventKind.PioOut, Address = 0x80, Size = 1, Value = 1 },
            new TraceEvent { Kind = TraceEventKind.Interrupt, Address = 5 },
        ]);
        vcpu.BindToCurrentThread();

        var first = vcpu.Run();
        Assert.Equal(ActorVmm.Kvm.VmExitKind.IoOut, first.Kind);
        Assert.Equal([1], vcpu.ExitData.ToArray());
        Assert.Equal(ActorVmm.Kvm.VmExitKind.Hlt, vcpu.Run().Kind);
        Assert.Equal(1, vcpu.Length);
    }
}
