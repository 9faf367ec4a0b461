using ActorVmm.Devices.Virtio;
using ActorVmm.TestSupport.Virtio;
using Xunit;
using static ActorVmm.TestSupport.Virtio.MockVirtqueue;

namespace ActorVmm.Devices.Tests.Virtio;

public sealed class VirtqueueBatchTests : IDisposable
{
    private const ushort QueueSize = 16;

    private readonly TestMemory _ram = new();
    private readonly MockVirtqueue _driver;

    public VirtqueueBatchTests()
    {
        _driver = new MockVirtqueue(_ram.Memory, TestMemory.RingBase(0), QueueSize);
    }

    public void Dispose() => _ram.Dispose();

    [Fact]
    public void AddUsedBatch_should_write_every_element_then_publish_the_index_once()
    {
        var q = _driver.CreateDeviceQueue();
        for (var i = 0; i < 3; i++)
        {
            _driver.AddChain(Buf.Writable(_ram.Allocate(64), 64));
        }

        var heads = Enumerable.Range(0, 3).Select(_ => q.TryPop(_ram.Memory)!.HeadIndex).ToArray();
        q.AddUsed(_ram.Memory, heads[0], 5);
        var traffic = new VirtqueueTraffic();
        q.Traffic = traffic;

        q.AddUsedBatch(_ram.Memory, [(heads[2], 64), (heads[1], 10)]);

        Assert.Equal(3, _driver.UsedIdx);
        Assert.Equal(3, q.NextUsed);
        Assert.Equal(((uint)heads[2], 64u), _driver.ReadUsed(1));
        Assert.Equal(((uint)heads[1], 10u), _driver.ReadUsed(2));
        Assert.False(q.PopOutstanding);
        Assert.Equal(2, traffic.Chains);
        Assert.Equal(74, traffic.Bytes);
    }

    [Fact]
    public void AddUsedBatch_should_do_nothing_on_a_queue_that_is_not_ready()
    {
        var q = new Virtqueue(QueueSize);

        q.AddUsedBatch(_ram.Memory, [(0, 1)]);

        Assert.Equal(0, q.NextUsed);
    }

    [Fact]
    public void WaitForMoreBuffers_should_put_avail_event_past_the_buffers_already_there_until_the_next_pop()
    {
        var q = _driver.CreateDeviceQueue(eventIdx: true);
        _driver.AddChain(Buf.Writable(_ram.Allocate(64), 64));
        _driver.AddChain(Buf.Writable(_ram.Allocate(64), 64));
        q.TryPop(_ram.Memory);
        q.TryPop(_ram.Memory);
        q.UndoPop();
        q.UndoPop();

        var lookAgain = q.WaitForMoreBuffers(_ram.Memory);
        q.EnableNotification(_ram.Memory);
        var whileWaiting = _driver.AvailEvent;
        q.TryPop(_ram.Memory);
        q.EnableNotification(_ram.Memory);

        Assert.False(lookAgain);
        Assert.Equal(2, whileWaiting);
        Assert.Equal(1, _driver.AvailEvent);
    }

    [Fact]
    public void WaitForMoreBuffers_should_clear_no_notify_without_event_idx()
    {
        var q = _driver.CreateDeviceQueue();
        _driver.AddChain(Buf.Writable(_ram.Allocate(64), 64));
        q.DisableNotification(_ram.Memory);

        q.WaitForMoreBuffers(_ram.Memory);

        Assert.Equal(0, _driver.UsedFlags);
    }
}
