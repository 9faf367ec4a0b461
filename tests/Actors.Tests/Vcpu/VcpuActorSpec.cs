using ActorVmm.Actors;
using ActorVmm.Actors.Bus;
using ActorVmm.Actors.Endpoints;
using ActorVmm.Actors.Settings;
using ActorVmm.Actors.Vcpu;
using ActorVmm.Actors.Vm;
using ActorVmm.Devices;
using ActorVmm.Host.Settings;
using ActorVmm.Kvm;
using ActorVmm.Kvm.Linux;
using ActorVmm.TestSupport.Fakes;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Xunit;
using BusMap = ActorVmm.Actors.Bus.Bus;

namespace ActorVmm.Actors.Tests.Vcpu;

public class VcpuActorSpec : TestKit
{
    private readonly GateDevice _keyboard = new("kbd", 0x42);
    private readonly RecordingDevice _post = new("post");
    private readonly BusMap _bus;

    public VcpuActorSpec()
    {
        _bus = new BusBuilder()
            .Add(BusRange.Pio(0x60, 1), Endpoint(_keyboard))
            .Add(BusRange.Pio(0x80, 1), Endpoint(_post))
            .Add(BusRange.Mmio(0x1000_0000, 0x1000), Endpoint(new ConstantDevice("mmio", 0x99)))
            .Build();
    }

    private static DeviceEndpoint Endpoint(IBusDevice device)
    {
        var endpoint = new DeviceEndpoint(device.Name, DeviceSettings.Default);
        endpoint.Install(device);
        return endpoint;
    }

    private IActorRef StartVcpu(ScriptedVcpu vcpu)
    {
        var actor = Sys.ActorOf(VcpuActor.Props(vcpu, _bus, TestActor));
        actor.Tell(VcpuProtocol.Start.Instance);
        return actor;
    }

    [Fact]
    public void Pause_should_commit_a_pending_IN_exactly_once_and_resume_should_lose_nothing()
    {
        _keyboard.Hold();
        var vcpu = new ScriptedVcpu(0)
            .Then(new VmExit(VmExitKind.IoIn, 0x60, 1))
            .Then(new VmExit(VmExitKind.IoOut, 0x80, 1), [7]);
        var actor = StartVcpu(vcpu);

        // Pause while the IN is being answered: the loop must commit it before parking.
        Assert.True(_keyboard.Entered.Wait(TimeSpan.FromSeconds(10)));
        actor.Tell(VcpuProtocol.Pause.Instance);
        Assert.True(vcpu.KickedEvent.Wait(TimeSpan.FromSeconds(10)));
        _keyboard.Release();

        ExpectMsg<VcpuProtocol.Paused>(p => p.VcpuId == 0);
        Assert.Equal([[0x42]], vcpu.Committed);
        Assert.Equal(1, vcpu.ImmediateRuns);
        Assert.Empty(_post.Log);

        actor.Tell(VcpuProtocol.Resume.Instance);
        ExpectMsg<VcpuProtocol.Resumed>();
        Assert.True(vcpu.Idle.Wait(TimeSpan.FromSeconds(10)));

        Assert.Equal([[0x42]], vcpu.Committed);
        Assert.Equal(1, _keyboard.Reads);
        Assert.Equal([('W', 0UL, 7UL)], _post.Log);

        actor.Tell(VcpuProtocol.Stop.Instance);
        ExpectMsg<VcpuProtocol.Stopped>(s => s.GuestReason is null);
        Assert.Equal(1, vcpu.ImmediateRuns);
    }

    [Fact]
    public void Stop_should_commit_a_pending_MMIO_read_and_end_the_thread()
    {
        var vcpu = new ScriptedVcpu(3) { BeforeExit = null };
        vcpu.Then(new VmExit(VmExitKind.MmioRead, 0x1000_0010, 4));
        var holding = new ManualResetEventSlim(false);
        var go = new ManualResetEventSlim(false);
        vcpu.BeforeExit = exit =>
        {
            holding.Set();
            go.Wait(TimeSpan.FromSeconds(10));
        };
        var actor = StartVcpu(vcpu);
        Assert.True(holding.Wait(TimeSpan.FromSeconds(10)));
        actor.Tell(VcpuProtocol.Stop.Instance);
        Assert.True(vcpu.KickedEvent.Wait(TimeSpan.FromSeconds(10)));
        go.Set();

        ExpectMsg<VcpuProtocol.Stopped>(s => s.VcpuId == 3 && s.GuestReason is null);
        Assert.Equal([[0x99, 0x99, 0x99, 0x99]], vcpu.Committed);
        Assert.Equal(1, vcpu.ImmediateRuns);
        Assert.Equal("vcpu3", vcpu.BoundThreadName);
        Assert.False(vcpu.InRun);
    }

    [Fact]
    public void A_pinned_vcpu_should_run_on_its_cpu_only()
    {
        var cpu = ThreadScheduling.AllowedCpus().Cpus[^1];
        var vcpu = new ScriptedVcpu(2);
        CpuSet? runningOn = null;
        vcpu.BeforeExit = _ => runningOn ??= ThreadScheduling.CurrentThreadCpus();
        vcpu.Then(new VmExit(VmExitKind.IoOut, 0x80, 1), [5]);
        var actor = Sys.ActorOf(VcpuActor.Props(vcpu, _bus, TestActor, affinity: CpuSet.Of(cpu)));
        actor.Tell(VcpuProtocol.Start.Instance);

        AwaitCondition(() => _post.Log.Count == 1);
        actor.Tell(VcpuProtocol.Stop.Instance);
        ExpectMsg<VcpuProtocol.Stopped>(s => s.GuestReason is null);

        Assert.Equal(CpuSet.Of(cpu), runningOn);
        Assert.Equal("vcpu2", vcpu.BoundThreadName);
    }

    [Fact]
    public void A_vcpu_pinned_where_Linux_refuses_should_stop_before_its_first_run_naming_the_cpus()
    {
        var outside = Enumerable.Range(0, CpuSet.MaxCpus).First(c => !ThreadScheduling.AllowedCpus().Contains(c));
        var vcpu = new ScriptedVcpu(0);
        var actor = Sys.ActorOf(VcpuActor.Props(vcpu, _bus, TestActor, affinity: CpuSet.Of(outside)));

        actor.Tell(VcpuProtocol.Start.Instance);

        var stopped = ExpectMsg<VcpuProtocol.GuestStopped>();
        Assert.Equal(VmStopReasonKind.InternalError, stopped.Reason.Kind);
        Assert.Contains($"sched_setaffinity({outside}) failed: EINVAL", stopped.Reason.Message, StringComparison.Ordinal);
        Assert.Equal(0, vcpu.Runs);
    }

    [Fact]
    public void Kick_should_bring_the_vcpu_out_of_a_long_run_and_let_it_run_again()
    {
        var vcpu = new ScriptedVcpu(0);
        var actor = StartVcpu(vcpu);
        Assert.True(vcpu.Idle.Wait(TimeSpan.FromSeconds(10)));
        var runs = vcpu.Runs;

        actor.Tell(VcpuProtocol.Kick.Instance);

        AwaitCondition(() => vcpu.Runs > runs && vcpu.InRun);
        vcpu.Then(new VmExit(VmExitKind.IoOut, 0x80, 1), [9]);
        AwaitCondition(() => _post.Log.Count == 1);
        actor.Tell(VcpuProtocol.Stop.Instance);
        ExpectMsg<VcpuProtocol.Stopped>();
    }

    [Fact]
    public void Pause_then_stop_should_reply_Paused_then_Stopped()
    {
        var vcpu = new ScriptedVcpu(1);
        var actor = StartVcpu(vcpu);
        actor.Tell(VcpuProtocol.Pause.Instance);
        ExpectMsg<VcpuProtocol.Paused>();
        actor.Tell(VcpuProtocol.Pause.Instance);
        ExpectMsg<VcpuProtocol.Paused>();
        actor.Tell(VcpuProtocol.Stop.Instance);
        ExpectMsg<VcpuProtocol.Stopped>();
        actor.Tell(VcpuProtocol.Resume.Instance);
        ExpectMsg<VcpuProtocol.Stopped>();
    }

    [Theory]
    [InlineData(VmExitKind.Shutdown, 0UL, VmStopReasonKind.TripleFault)]
    [InlineData(VmExitKind.SystemEvent, 1UL, VmStopReasonKind.PowerOff)]
    [InlineData(VmExitKind.SystemEvent, 2UL, VmStopReasonKind.Reset)]
    [InlineData(VmExitKind.SystemEvent, 3UL, VmStopReasonKind.GuestPanic)]
    [InlineData(VmExitKind.Hlt, 0UL, VmStopReasonKind.PowerOff)]
    [InlineData(VmExitKind.InternalError, 1UL, VmStopReasonKind.InternalError)]
    [InlineData(VmExitKind.FailEntry, 0x80000021UL, VmStopReasonKind.InternalError)]
    [InlineData(VmExitKind.Unknown, 99UL, VmStopReasonKind.InternalError)]
    public void Exits_that_end_the_guest_should_be_reported_with_a_reason(VmExitKind kind, ulong detail, VmStopReasonKind expected)
    {
        var vcpu = new ScriptedVcpu(2).Then(new VmExit(kind, Detail: detail));
        StartVcpu(vcpu);

        var stopped = ExpectMsg<VcpuProtocol.GuestStopped>();
        Assert.Equal(2, stopped.VcpuId);
        Assert.Equal(expected, stopped.Reason.Kind);
    }

    [Fact]
    public void Garbage_exits_should_neither_crash_the_loop_nor_reach_devices_out_of_bounds()
    {
        var vcpu = new ScriptedVcpu(0)
            .Then(new VmExit(VmExitKind.IoIn, 0x60, 2, Count: 1_000_000), [0, 0, 0, 0])
            .Then(new VmExit(VmExitKind.IoOut, 0x80, 0, Count: 5), [1, 2])
            .Then(new VmExit(VmExitKind.IoOut, 0x80, 4, Count: 3), [1, 2])
            .Then(new VmExit(VmExitKind.MmioRead, 0x1000_0000, 16))
            .Then(new VmExit(VmExitKind.MmioWrite, ulong.MaxValue, 8), [1, 2, 3, 4, 5, 6, 7, 8])
            .Then(new VmExit(VmExitKind.Hlt));
        StartVcpu(vcpu);

        ExpectMsg<VcpuProtocol.GuestStopped>(s => s.Reason.Kind == VmStopReasonKind.PowerOff);
        Assert.Equal(2, _keyboard.Reads);
        Assert.Empty(_post.Log);
        Assert.Equal(1, _bus.MmioStats.BadSizeAccesses);
        Assert.Equal(1, _bus.MmioStats.UnclaimedWrites);
        Assert.All(vcpu.Committed[1], b => Assert.Equal(0xff, b));
    }

    [Fact]
    public void A_failing_vcpu_should_stop_with_an_internal_error()
    {
        var vcpu = new ScriptedVcpu(0) { BeforeExit = _ => throw new InvalidOperationException("KVM_RUN: EFAULT") };
        vcpu.Then(new VmExit(VmExitKind.IoIn, 0x60, 1));
        StartVcpu(vcpu);

        var stopped = ExpectMsg<VcpuProtocol.GuestStopped>();
        Assert.Equal(VmStopReasonKind.InternalError, stopped.Reason.Kind);
        Assert.Contains("EFAULT", stopped.Reason.Message);
    }

    /// <summary>Answers reads with a fixed byte; can hold a read until released.</summary>
    private sealed class GateDevice(string name, byte value) : IBusDevice
    {
        private readonly ManualResetEventSlim _open = new(true);
        private int _reads;

        public ManualResetEventSlim Entered { get; } = new(false);

        public int Reads => Volatile.Read(ref _reads);

        public string Name { get; } = name;

        public void Hold() => _open.Reset();

        public void Release() => _open.Set();

        public void Read(ulong offset, Span<byte> data)
        {
            Interlocked.Increment(ref _reads);
            Entered.Set();
            _open.Wait(TimeSpan.FromSeconds(30));
            data.Fill(value);
        }

        public void Write(ulong offset, ReadOnlySpan<byte> data)
        {
        }
    }
}
