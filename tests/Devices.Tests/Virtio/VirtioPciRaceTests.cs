using ActorVmm.Devices.Virtio;
using ActorVmm.Kvm.Memory;
using ActorVmm.TestSupport.Fakes;
using ActorVmm.TestSupport.Virtio;
using Xunit;
using static ActorVmm.TestSupport.Virtio.MockVirtqueue;

namespace ActorVmm.Devices.Tests.Virtio;

/// <summary>
/// A driver that publishes more buffers while the device is serving a kick (with EVENT_IDX it does not kick again
/// for them): the transport must serve them or re-kick itself, never leave them stranded.
/// </summary>
public sealed class VirtioPciRaceTests : IDisposable
{
    private readonly TestMemory _ram = new();
    private readonly VirtioRngDevice _rng = new();

    public void Dispose()
    {
        _rng.Dispose();
        _ram.Dispose();
    }

    [Fact]
    public void Buffers_published_during_every_round_should_be_re_kicked_through_the_kick_handler()
    {
        var queue = new MockVirtqueue(_ram.Memory, TestMemory.RingBase(0), 64);
        var buffer = _ram.Allocate(16);
        var racing = new RacingDevice(_rng, races: 10, () => queue.AddChain(Buf.Writable(buffer, 16)));
        var device = new VirtioPciDevice("rng0", racing, _ram.Memory, new RecordingInterruptLine(), 0xE000_0000, 10);
        var kicks = new List<int>();
        device.QueueKickHandler = kicks.Add;
        new VirtioPciDriver(device).Initialize(queue);
        Assert.Equal([0], kicks); // DRIVER_OK asks every ready queue for a pass
        kicks.Clear();
        racing.Armed = true;
        queue.AddChain(Buf.Writable(buffer, 16));

        device.NotifyQueue(0);
        Assert.Equal([0], kicks);
        kicks.Clear();
        QueueWorker.Pass(device, 0);
        var servedFirst = queue.UsedIdx;
        while (kicks.Count > 0)
        {
            kicks.RemoveAt(0);
            QueueWorker.Pass(device, 0);
        }

        Assert.Equal(4, servedFirst); // four rounds, then the rest is handed back as a kick
        Assert.Equal(11, queue.UsedIdx);
    }

    [Fact]
    public void Without_a_kick_handler_every_raced_buffer_should_be_served_in_the_same_call()
    {
        var queue = new MockVirtqueue(_ram.Memory, TestMemory.RingBase(0), 64);
        var buffer = _ram.Allocate(16);
        var racing = new RacingDevice(_rng, races: 10, () => queue.AddChain(Buf.Writable(buffer, 16)));
        var device = new VirtioPciDevice("rng0", racing, _ram.Memory, new RecordingInterruptLine(), 0xE000_0000, 10);
        new VirtioPciDriver(device).Initialize(queue);
        racing.Armed = true;
        queue.AddChain(Buf.Writable(buffer, 16));

        device.NotifyQueue(0);

        Assert.Equal(11, queue.UsedIdx);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Buffers_the_device_leaves_waiting_should_neither_spin_nor_be_re_kicked(bool withKickHandler)
    {
        var rx = new MockVirtqueue(_ram.Memory, TestMemory.RingBase(0), 16);
        var tx = new MockVirtqueue(_ram.Memory, TestMemory.RingBase(1), 16);
        var console = new VirtioConsoleDevice(_ => { });
        var device = new VirtioPciDevice("hvc0", console, _ram.Memory, new RecordingInterruptLine(), 0xE000_0000, 10);
        var kicks = new List<int>();
        if (withKickHandler)
        {
            device.QueueKickHandler = kicks.Add;
        }

        new VirtioPciDriver(device).Initialize(rx, tx);
        kicks.Clear();
        rx.AddChain(Buf.Writable(_ram.Allocate(64), 64)); // a receive buffer, and no input to put in it

        if (withKickHandler)
        {
            device.NotifyQueue(VirtioConsoleDevice.ReceiveQueue);
            Assert.Equal([VirtioConsoleDevice.ReceiveQueue], kicks);
            kicks.Clear();
            QueueWorker.Pass(device, VirtioConsoleDevice.ReceiveQueue);
        }
        else
        {
            device.NotifyQueue(VirtioConsoleDevice.ReceiveQueue);
        }

        Assert.Empty(kicks);
        Assert.Equal(0, rx.UsedIdx);
    }

    /// <summary>virtio-rng whose "driver" publishes one more buffer after each of the first few passes.</summary>
    private sealed class RacingDevice(VirtioRngDevice inner, int races, Action publish) : IVirtioDevice
    {
        private int _left = races;

        /// <summary>Races only once the driver is up (activation serves the queue too).</summary>
        public bool Armed { get; set; }

        public ushort DeviceType => inner.DeviceType;

        public ulong AvailableFeatures => inner.AvailableFeatures;

        public int QueueCount => inner.QueueCount;

        public ushort MaxQueueSize => inner.MaxQueueSize;

        public int ConfigSize => inner.ConfigSize;

        public void ReadConfig(ulong offset, Span<byte> data) => inner.ReadConfig(offset, data);

        public void WriteConfig(ulong offset, ReadOnlySpan<byte> data) => inner.WriteConfig(offset, data);

        public void Activate(VirtioContext context) => inner.Activate(context);

        public bool ProcessQueue(int index, Virtqueue queue, GuestMemory memory)
        {
            var added = inner.ProcessQueue(index, queue, memory);
            if (Armed && _left-- > 0)
            {
                publish();
            }

            return added;
        }

        public void Reset() => inner.Reset();

        public object? SaveDeviceState() => inner.SaveDeviceState();

        public void RestoreDeviceState(object? state) => inner.RestoreDeviceState(state);
    }
}
