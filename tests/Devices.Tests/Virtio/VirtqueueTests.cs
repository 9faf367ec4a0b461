using ActorVmm.Devices.Virtio;
using ActorVmm.Kvm.Memory;
using ActorVmm.TestSupport.Virtio;
using Xunit;
using static ActorVmm.TestSupport.Virtio.MockVirtqueue;

namespace ActorVmm.Devices.Tests.Virtio;

public sealed class VirtqueueTests : IDisposable
{
    private const ushort QueueSize = 16;

    private readonly TestMemory _ram = new();
    private readonly MockVirtqueue _driver;

    public VirtqueueTests()
    {
        _driver = new MockVirtqueue(_ram.Memory, TestMemory.RingBase(0), QueueSize);
    }

    private GuestMemory Memory => _ram.Memory;

    public void Dispose() => _ram.Dispose();

    [Fact]
    public void Pop_should_return_nothing_when_the_driver_made_nothing_available()
    {
        var q = _driver.CreateDeviceQueue();

        Assert.Null(q.TryPop(Memory));
        Assert.Equal(0, q.GuestErrors);
    }

    [Fact]
    public void Pop_should_return_readable_buffers_before_writable_ones_with_their_lengths()
    {
        var q = _driver.CreateDeviceQueue();
        var header = _ram.AllocateFilled([1, 2, 3, 4, 5, 6, 7, 8]);
        var data = _ram.Allocate(512);
        var status = _ram.Allocate(1);
        var head = _driver.AddChain(Buf.Readable(header, 8), Buf.Writable(data, 512), Buf.Writable(status, 1));

        var chain = q.TryPop(Memory);

        Assert.NotNull(chain);
        Assert.Equal(head, chain.HeadIndex);
        Assert.Equal(1, chain.ReadableCount);
        Assert.Equal(8UL, chain.ReadableLength);
        Assert.Equal(513UL, chain.WritableLength);
        Assert.Equal([header, data, status], chain.Descriptors.Select(d => d.Address));
        Assert.Equal(1, q.NextAvail);
        Assert.Null(q.TryPop(Memory));
    }

    [Fact]
    public void Chain_read_and_write_should_gather_and_scatter_across_buffers_and_stop_at_their_end()
    {
        var q = _driver.CreateDeviceQueue();
        var r1 = _ram.AllocateFilled([1, 2, 3]);
        var r2 = _ram.AllocateFilled([4, 5]);
        var w1 = _ram.Allocate(2);
        var w2 = _ram.Allocate(3);
        _driver.AddChain(Buf.Readable(r1, 3), Buf.Readable(r2, 2), Buf.Writable(w1, 2), Buf.Writable(w2, 3));
        var chain = q.TryPop(Memory)!;

        var gathered = new byte[10];
        var read = chain.Read(Memory, 1, gathered);
        var written = chain.Write(Memory, 1, [9, 8, 7, 6, 5, 4]);

        Assert.Equal(4, read);
        Assert.Equal(new byte[] { 2, 3, 4, 5 }, gathered[..4]);
        Assert.Equal(4, written);
        Assert.Equal(new byte[] { 0, 9 }, _ram.ReadBytes(w1, 2));
        Assert.Equal(new byte[] { 8, 7, 6 }, _ram.ReadBytes(w2, 3));
    }

    [Fact]
    public void AddUsed_should_publish_the_element_and_advance_the_used_index()
    {
        var q = _driver.CreateDeviceQueue();
        var head = _driver.AddChain(Buf.Writable(_ram.Allocate(64), 64));
        var chain = q.TryPop(Memory)!;

        q.AddUsed(Memory, chain.HeadIndex, 42);

        Assert.Equal(1, _driver.UsedIdx);
        Assert.Equal(((uint)head, 42u), _driver.ReadUsed(0));
    }

    [Fact]
    public void Pop_should_resolve_an_indirect_table_into_its_buffers()
    {
        var q = _driver.CreateDeviceQueue(indirect: true);
        var table = _ram.Allocate(16 * 3);
        var a = _ram.Allocate(16);
        var b = _ram.Allocate(32);
        var c = _ram.Allocate(1);
        var head = _driver.AddIndirectChain(table, Buf.Readable(a, 16), Buf.Writable(b, 32), Buf.Writable(c, 1));

        var chain = q.TryPop(Memory);

        Assert.NotNull(chain);
        Assert.Equal(head, chain.HeadIndex);
        Assert.Equal([a, b, c], chain.Descriptors.Select(d => d.Address));
        Assert.Equal(16UL, chain.ReadableLength);
        Assert.Equal(33UL, chain.WritableLength);
    }

    [Fact]
    public void Pop_should_fail_an_indirect_descriptor_when_the_feature_was_not_negotiated()
    {
        var q = _driver.CreateDeviceQueue(indirect: false);
        var table = _ram.Allocate(16);
        var head = _driver.AddIndirectChain(table, Buf.Writable(_ram.Allocate(16), 16));

        AssertFailedAndSkipped(q, head);
    }

    [Fact]
    public void Pop_should_fail_a_chain_that_loops()
    {
        var q = _driver.CreateDeviceQueue();
        var buf = _ram.Allocate(16);
        _driver.WriteDescriptor(0, buf.Value, 16, Descriptor.FlagNext, 1);
        _driver.WriteDescriptor(1, buf.Value, 16, Descriptor.FlagNext, 0);
        _driver.Publish(0);

        AssertFailedAndSkipped(q, 0);
    }

    [Fact]
    public void Pop_should_fail_a_descriptor_that_points_to_itself()
    {
        var q = _driver.CreateDeviceQueue();
        _driver.WriteDescriptor(3, _ram.Allocate(16).Value, 16, Descriptor.FlagNext, 3);
        _driver.Publish(3);

        AssertFailedAndSkipped(q, 3);
    }

    [Fact]
    public void Pop_should_fail_a_chain_whose_next_index_is_outside_the_queue()
    {
        var q = _driver.CreateDeviceQueue();
        _driver.WriteDescriptor(0, _ram.Allocate(16).Value, 16, Descriptor.FlagNext, QueueSize);
        _driver.Publish(0);

        AssertFailedAndSkipped(q, 0);
    }

    [Theory]
    [InlineData(TestMemory.RamSize - 8, 16u)]
    [InlineData(TestMemory.RamSize + 0x1000, 16u)]
    [InlineData(0xFFFF_FFFF_FFFF_FFF0UL, 0x100u)]
    public void Pop_should_fail_a_buffer_outside_guest_ram(ulong address, uint length)
    {
        var q = _driver.CreateDeviceQueue();
        _driver.WriteDescriptor(0, address, length, Descriptor.FlagWrite, 0);
        _driver.Publish(0);

        AssertFailedAndSkipped(q, 0);
    }

    [Fact]
    public void Pop_should_fail_a_zero_length_buffer()
    {
        var q = _driver.CreateDeviceQueue();
        _driver.WriteDescriptor(0, _ram.Allocate(16).Value, 0, 0, 0);
        _driver.Publish(0);

        AssertFailedAndSkipped(q, 0);
    }

    [Fact]
    public void Pop_should_fail_a_buffer_longer_than_the_per_descriptor_limit()
    {
        var q = _driver.CreateDeviceQueue();
        _driver.WriteDescriptor(0, 0x10_0000, (1u << 20) + 1, Descriptor.FlagWrite, 0);
        _driver.Publish(0);

        AssertFailedAndSkipped(q, 0);
    }

    [Fact]
    public void Pop_should_fail_a_chain_carrying_more_than_the_total_limit()
    {
        var q = _driver.CreateDeviceQueue(limits: new VirtqueueLimits(1u << 20, 2UL << 20, 1024));
        _driver.AddChain(
            Buf.Writable(new GuestAddress(0x10_0000), 1u << 20),
            Buf.Writable(new GuestAddress(0x20_0000), 1u << 20),
            Buf.Writable(new GuestAddress(0x30_0000), 1));

        AssertFailedAndSkipped(q, 0);
    }

    [Fact]
    public void Pop_should_fail_a_readable_buffer_after_a_writable_one()
    {
        var q = _driver.CreateDeviceQueue();
        var head = _driver.AddChain(Buf.Writable(_ram.Allocate(16), 16), Buf.Readable(_ram.Allocate(16), 16));

        AssertFailedAndSkipped(q, head);
    }

    [Fact]
    public void Pop_should_fail_an_indirect_descriptor_inside_an_indirect_table()
    {
        var q = _driver.CreateDeviceQueue();
        var inner = _ram.Allocate(16);
        _driver.WriteDescriptorAt(inner, 0, _ram.Allocate(16).Value, 16, Descriptor.FlagWrite, 0);
        var outer = _ram.Allocate(16);
        _driver.WriteDescriptorAt(outer, 0, inner.Value, 16, Descriptor.FlagIndirect, 0);
        _driver.WriteDescriptor(0, outer.Value, 16, Descriptor.FlagIndirect, 0);
        _driver.Publish(0);

        AssertFailedAndSkipped(q, 0);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(24u)]
    [InlineData(16u * 2048)]
    public void Pop_should_fail_an_indirect_table_of_bad_length(uint length)
    {
        var q = _driver.CreateDeviceQueue();
        _driver.WriteDescriptor(0, 0x10_0000, length, Descriptor.FlagIndirect, 0);
        _driver.Publish(0);

        AssertFailedAndSkipped(q, 0);
    }

    [Fact]
    public void Pop_should_fail_an_indirect_table_that_loops()
    {
        var q = _driver.CreateDeviceQueue();
        var table = _ram.Allocate(32);
        var buf = _ram.Allocate(16);
        _driver.WriteDescriptorAt(table, 0, buf.Value, 16, Descriptor.FlagNext, 1);
        _driver.WriteDescriptorAt(table, 1, buf.Value, 16, Descriptor.FlagNext, 0);
        _driver.WriteDescriptor(0, table.Value, 32, Descriptor.FlagIndirect, 0);
        _driver.Publish(0);

        AssertFailedAndSkipped(q, 0);
    }

    [Fact]
    public void Pop_should_serve_a_good_chain_after_failing_a_bad_one()
    {
        var q = _driver.CreateDeviceQueue();
        _driver.WriteDescriptor(0, 0x10_0000, 0, 0, 0);
        _driver.Publish(0);
        _driver.Reserve(1);
        var good = _driver.AddChain(Buf.Writable(_ram.Allocate(8), 8));

        var chain = q.TryPop(Memory);

        Assert.NotNull(chain);
        Assert.Equal(good, chain.HeadIndex);
        Assert.Equal(1, q.GuestErrors);
        Assert.Equal((0u, 0u), _driver.ReadUsed(0));
    }

    [Fact]
    public void Pop_should_break_the_queue_when_the_avail_index_runs_more_than_a_queue_ahead()
    {
        var q = _driver.CreateDeviceQueue();
        _driver.SetAvailIdx(QueueSize + 1);

        Assert.Null(q.TryPop(Memory));
        Assert.True(q.Broken);
        Assert.Equal(1, q.GuestErrors);
        Assert.Null(q.TryPop(Memory));
    }

    [Fact]
    public void Pop_should_break_the_queue_when_the_avail_ring_names_a_head_outside_the_queue()
    {
        var q = _driver.CreateDeviceQueue();
        _driver.Publish(QueueSize + 3);

        Assert.Null(q.TryPop(Memory));
        Assert.True(q.Broken);
    }

    [Fact]
    public void Pop_should_terminate_on_random_garbage_rings_without_throwing()
    {
        var random = new Random(1234);
        for (var round = 0; round < 200; round++)
        {
            var garbage = new byte[16 * QueueSize];
            random.NextBytes(garbage);
            Memory.Write(_driver.Desc, garbage);
            var ring = new byte[2 * QueueSize];
            random.NextBytes(ring);
            Memory.Write(_driver.Avail.CheckedAdd(4), ring);
            var q = _driver.CreateDeviceQueue(eventIdx: round % 2 == 0, indirect: round % 3 != 0);
            _driver.SetAvailIdx((ushort)random.Next(0, 2 * QueueSize));

            var popped = 0;
            while (q.TryPop(Memory) is { } chain)
            {
                Assert.True(++popped <= QueueSize);
                q.AddUsed(Memory, chain.HeadIndex, 0);
            }

            _ = q.NeedsNotification(Memory);
            _ = q.EnableNotification(Memory);
        }
    }

    [Fact]
    public void TrySetReady_should_accept_a_well_formed_queue()
    {
        var q = new Virtqueue(QueueSize) { Size = 8, DescTable = _driver.Desc, AvailRing = _driver.Avail, UsedRing = _driver.Used };

        Assert.True(q.TrySetReady(Memory, out var error), error);
        Assert.True(q.Ready);
    }

    [Theory]
    [InlineData(0, 0x1000UL, 0x2000UL, 0x3000UL)]
    [InlineData(12, 0x1000UL, 0x2000UL, 0x3000UL)]
    [InlineData(32, 0x1000UL, 0x2000UL, 0x3000UL)]
    [InlineData(16, 0x1008UL, 0x2000UL, 0x3000UL)]
    [InlineData(16, 0x1000UL, 0x2001UL, 0x3000UL)]
    [InlineData(16, 0x1000UL, 0x2000UL, 0x3002UL)]
    [InlineData(16, TestMemory.RamSize - 0x80, 0x2000UL, 0x3000UL)]
    [InlineData(16, 0x1000UL, 0xFFFF_FFFF_FFFF_FFF0UL, 0x3000UL)]
    [InlineData(16, 0x1000UL, 0x2000UL, TestMemory.RamSize - 4)]
    public void TrySetReady_should_reject_bad_size_alignment_or_placement(int size, ulong desc, ulong avail, ulong used)
    {
        var q = new Virtqueue(QueueSize)
        {
            Size = (ushort)size,
            DescTable = new GuestAddress(desc),
            AvailRing = new GuestAddress(avail),
            UsedRing = new GuestAddress(used),
        };

        Assert.False(q.TrySetReady(Memory, out var error));
        Assert.NotNull(error);
        Assert.False(q.Ready);
        Assert.Null(q.TryPop(Memory));
    }

    [Fact]
    public void NeedsNotification_without_event_idx_should_honour_the_no_interrupt_flag()
    {
        var q = _driver.CreateDeviceQueue();
        _driver.AddChain(Buf.Writable(_ram.Allocate(8), 8));
        q.AddUsed(Memory, q.TryPop(Memory)!.HeadIndex, 8);

        Assert.True(q.NeedsNotification(Memory));
        _driver.SetAvailFlags(Virtqueue.AvailFlagNoInterrupt);
        Assert.False(q.NeedsNotification(Memory));
    }

    [Fact]
    public void NeedsNotification_with_event_idx_should_interrupt_only_when_used_crosses_used_event()
    {
        var q = _driver.CreateDeviceQueue(eventIdx: true);
        var buffers = Enumerable.Range(0, 4).Select(_ => _ram.Allocate(8)).ToArray();
        foreach (var b in buffers)
        {
            _driver.AddChain(Buf.Writable(b, 8));
        }

        // The driver wants an interrupt once the used index passes 2 (after the third completion).
        _driver.SetUsedEvent(2);
        var results = new List<bool>();
        for (var i = 0; i < 4; i++)
        {
            q.AddUsed(Memory, q.TryPop(Memory)!.HeadIndex, 8);
            results.Add(q.NeedsNotification(Memory));
        }

        // The first call has nothing to compare against and always notifies.
        Assert.Equal([true, false, true, false], results);
    }

    [Fact]
    public void NeedsNotification_with_event_idx_should_notify_when_a_batch_crosses_used_event()
    {
        var q = _driver.CreateDeviceQueue(eventIdx: true);
        for (var i = 0; i < 5; i++)
        {
            _driver.AddChain(Buf.Writable(_ram.Allocate(8), 8));
        }

        q.AddUsed(Memory, q.TryPop(Memory)!.HeadIndex, 8);
        _ = q.NeedsNotification(Memory);
        _driver.SetUsedEvent(100);
        q.AddUsed(Memory, q.TryPop(Memory)!.HeadIndex, 8);
        var suppressed = q.NeedsNotification(Memory);
        _driver.SetUsedEvent(3);
        q.AddUsed(Memory, q.TryPop(Memory)!.HeadIndex, 8);
        q.AddUsed(Memory, q.TryPop(Memory)!.HeadIndex, 8);
        var crossed = q.NeedsNotification(Memory);

        Assert.False(suppressed);
        Assert.True(crossed);
    }

    [Fact]
    public void EnableNotification_should_publish_avail_event_and_report_pending_buffers()
    {
        var q = _driver.CreateDeviceQueue(eventIdx: true);
        _driver.AddChain(Buf.Writable(_ram.Allocate(8), 8));
        _driver.AddChain(Buf.Writable(_ram.Allocate(8), 8));
        _ = q.TryPop(Memory);

        Assert.True(q.EnableNotification(Memory));
        Assert.Equal(1, _driver.AvailEvent);
        _ = q.TryPop(Memory);
        Assert.False(q.EnableNotification(Memory));
        Assert.Equal(2, _driver.AvailEvent);
    }

    [Fact]
    public void DisableNotification_without_event_idx_should_set_no_notify_and_enable_should_clear_it()
    {
        var q = _driver.CreateDeviceQueue();

        q.DisableNotification(Memory);
        var disabled = _driver.UsedFlags;
        _ = q.EnableNotification(Memory);

        Assert.Equal(Virtqueue.UsedFlagNoNotify, disabled);
        Assert.Equal(0, _driver.UsedFlags);
    }

    [Fact]
    public void RestoreState_should_let_a_new_queue_continue_where_the_old_one_stopped()
    {
        var q = _driver.CreateDeviceQueue(eventIdx: true);
        _driver.AddChain(Buf.Writable(_ram.Allocate(8), 8));
        var second = _driver.AddChain(Buf.Writable(_ram.Allocate(8), 8));
        q.AddUsed(Memory, q.TryPop(Memory)!.HeadIndex, 8);

        var restored = new Virtqueue(QueueSize);
        restored.RestoreState(q.SaveState());
        var chain = restored.TryPop(Memory);
        restored.AddUsed(Memory, chain!.HeadIndex, 8);

        Assert.Equal(second, chain.HeadIndex);
        Assert.Equal(2, _driver.UsedIdx);
        Assert.True(restored.EventIdxEnabled);
    }

    [Fact]
    public void Reset_should_forget_the_configuration()
    {
        var q = _driver.CreateDeviceQueue();
        _driver.AddChain(Buf.Writable(_ram.Allocate(8), 8));
        _ = q.TryPop(Memory);

        q.Reset();

        Assert.False(q.Ready);
        Assert.Equal(0, q.NextAvail);
        Assert.Equal(GuestAddress.Zero, q.DescTable);
        Assert.Null(q.TryPop(Memory));
    }

    private void AssertFailedAndSkipped(Virtqueue q, ushort head)
    {
        var chain = q.TryPop(Memory);

        Assert.Null(chain);
        Assert.False(q.Broken);
        Assert.Equal(1, q.GuestErrors);
        Assert.Equal(1, _driver.UsedIdx);
        Assert.Equal(((uint)head, 0u), _driver.ReadUsed(0));
    }
}
