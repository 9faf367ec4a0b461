using ActorVmm.Devices.Virtio;
using ActorVmm.TestSupport.Fakes;
using ActorVmm.TestSupport.Virtio;
using Xunit;
using static ActorVmm.TestSupport.Virtio.MockVirtqueue;

namespace ActorVmm.Devices.Tests.Virtio;

/// <summary>A queue kick through <see cref="IQueueNotifiable"/> against the guest's notify write.</summary>
public sealed class VirtioPciQueueNotifyTests : IDisposable
{
    private const ulong BarAddress = 0xE000_8000;

    private readonly Rig _written = new();
    private readonly Rig _kicked = new();

    public void Dispose()
    {
        _written.Dispose();
        _kicked.Dispose();
    }

    [Fact]
    public void NotifyQueue_should_serve_the_queue_like_a_notify_write()
    {
        foreach (var rig in new[] { _written, _kicked })
        {
            rig.Driver.Initialize(rig.Queue);
            rig.Queue.AddChain(Buf.Writable(rig.Ram.Allocate(32), 32));
            rig.Queue.AddChain(Buf.Writable(rig.Ram.Allocate(16), 16));
        }

        _written.Driver.Notify(0);
        _kicked.Device.NotifyQueue(0);

        Assert.Equal(2, _kicked.Queue.UsedIdx);
        Assert.Equal(_written.Queue.UsedIdx, _kicked.Queue.UsedIdx);
        Assert.Equal(_written.Queue.ReadUsed(0), _kicked.Queue.ReadUsed(0));
        Assert.Equal(_written.Queue.ReadUsed(1), _kicked.Queue.ReadUsed(1));
        Assert.Equal(_written.Device.GetQueueState(0), _kicked.Device.GetQueueState(0));
        Assert.Equal(_written.Line.Level, _kicked.Line.Level);
        Assert.Equal(_written.Line.Raised, _kicked.Line.Raised);
        Assert.Equal(_written.Driver.ReadIsr(), _kicked.Driver.ReadIsr());
        Assert.Equal(0, _kicked.Device.Stats.GuestErrors);
    }

    [Fact]
    public void NotifyQueue_should_count_an_index_the_device_lacks_and_serve_nothing()
    {
        var rig = _kicked;
        rig.Driver.Initialize(rig.Queue);
        rig.Queue.AddChain(Buf.Writable(rig.Ram.Allocate(16), 16));
        var notifiable = rig.Device;
        int[] garbage = [-1, 1, 2, 63, 64, int.MaxValue, int.MinValue];

        foreach (var index in garbage)
        {
            notifiable.NotifyQueue(index);
        }

        Assert.Equal(1, notifiable.QueueCount);
        Assert.Equal(garbage.Length, rig.Device.Stats.UnhandledWrites);
        Assert.Equal(0, rig.Device.Stats.GuestErrors);
        Assert.Equal(0, rig.Queue.UsedIdx);
        Assert.False(rig.Line.Level);
        Assert.Equal(0, rig.Device.Isr);

        notifiable.NotifyQueue(0);

        Assert.Equal(1, rig.Queue.UsedIdx);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public void Notify_write_should_kick_its_queue_at_any_width_that_fits(int width)
    {
        var rig = _written;
        rig.Driver.Initialize(rig.Queue);
        rig.Queue.AddChain(Buf.Writable(rig.Ram.Allocate(16), 16));

        rig.Device.Write(VirtioPciDevice.NotifyOffsetOf(0), new byte[width]);

        Assert.Equal(1, rig.Queue.UsedIdx);
        Assert.Equal(0, rig.Device.Stats.UnhandledWrites);
    }

    [Fact]
    public void Notify_write_past_the_last_queue_should_count_as_unhandled_and_a_wide_one_on_a_queue_should_kick_it()
    {
        var rig = _written;
        rig.Driver.Initialize(rig.Queue);
        rig.Queue.AddChain(Buf.Writable(rig.Ram.Allocate(16), 16));

        rig.Device.Write(VirtioPciDevice.NotifyOffsetOf(1), [0, 0]);
        Assert.Equal(0, rig.Queue.UsedIdx);
        Assert.Equal(1, rig.Device.Stats.UnhandledWrites);

        // 8 bytes from queue 0's register run past the last one; like the any-length ioeventfd there, it is a kick.
        rig.Device.Write(VirtioPciDevice.NotifyOffsetOf(0), new byte[8]);
        Assert.Equal(1, rig.Queue.UsedIdx);
        Assert.Equal(1, rig.Device.Stats.UnhandledWrites);
    }

    private sealed class Rig : IDisposable
    {
        private readonly VirtioRngDevice _rng = new();

        public Rig()
        {
            Device = new VirtioPciDevice("rng0", _rng, Ram.Memory, Line, BarAddress, irq: 10);
            Driver = new VirtioPciDriver(Device);
            Queue = new MockVirtqueue(Ram.Memory, TestMemory.RingBase(0), 64);
        }

        public TestMemory Ram { get; } = new();

        public RecordingInterruptLine Line { get; } = new();

        public VirtioPciDevice Device { get; }

        public VirtioPciDriver Driver { get; }

        public MockVirtqueue Queue { get; }

        public void Dispose()
        {
            _rng.Dispose();
            Ram.Dispose();
        }
    }
}
