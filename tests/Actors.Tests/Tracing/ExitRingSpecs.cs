using ActorVmm.Actors.Tracing;
using ActorVmm.Host.Tracing;
using Xunit;

namespace ActorVmm.Actors.Tests.Tracing;

public class ExitRingSpecs
{
    [Fact]
    public void Producer_should_not_allocate_while_the_consumer_prepares_segments_ahead()
    {
        var ring = new ExitRing(8 * ExitRing.SegmentSize);
        var record = new ExitRecord { Address = 0x3f8, Kind = TraceEventKind.PioOut, Size = 1 };
        var written = 0L;
        var allocated = 0L;

        var refused = 0;

        // Four segments' worth, the consumer draining and preparing ahead after every half segment (as the writer does).
        // The first half (segment 0, made by the constructor) is not counted: it also runs the code for the first time,
        // and a first call may allocate on this thread for reasons of the runtime's own (seen once in CI: 7,928 bytes).
        for (var half = 0; half < 8; half++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < ExitRing.SegmentSize / 2; i++)
            {
                refused += ring.TryWrite(record) ? 0 : 1;
                written++;
            }

            if (half > 0)
            {
                allocated += GC.GetAllocatedBytesForCurrentThread() - before;
            }

            var consumer = new Thread(() =>
            {
                var n = ring.Available(out var head);
                ring.Release(head + n);
                ring.PrepareAhead();
            });
            consumer.Start();
            consumer.Join();
        }

        Assert.Equal(0, allocated);
        Assert.Equal(0, refused);
        Assert.Equal(0, ring.Dropped);
        Assert.Equal(0, ring.Available(out var end));
        Assert.Equal(written, end);
    }

    [Fact]
    public void Producer_should_allocate_its_own_segment_when_the_consumer_lags_and_keep_every_record()
    {
        var ring = new ExitRing(4 * ExitRing.SegmentSize);

        // Nobody prepares ahead: the producer runs into segments 2 and 3 itself.
        for (var i = 0; i < 4 * ExitRing.SegmentSize; i++)
        {
            Assert.True(ring.TryWrite(new ExitRecord { Address = (ulong)i }));
        }

        Assert.False(ring.TryWrite(new ExitRecord { Address = ulong.MaxValue }));
        Assert.Equal(1, ring.Dropped);
        Assert.Equal(4 * ExitRing.SegmentSize, ring.Available(out var head));
        for (var i = 0; i < 4 * ExitRing.SegmentSize; i++)
        {
            Assert.Equal((ulong)i, ring.At(head + i).Address);
        }
    }
}
