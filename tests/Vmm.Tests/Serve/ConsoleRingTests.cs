using System.Text;
using ActorVmm.Host.Serve;

namespace ActorVmm.Vmm.Tests.Serve;

public sealed class ConsoleRingTests
{
    private static byte[] Bytes(string text) => Encoding.ASCII.GetBytes(text);

    private static string Text(byte[] bytes) => Encoding.ASCII.GetString(bytes);

    [Fact]
    public void Tail_should_return_the_last_bytes_across_the_wrap()
    {
        var ring = new ConsoleRing(8);
        ring.Write(Bytes("abcdef"));
        ring.Write(Bytes("ghij"));

        Assert.Equal("cdefghij", Text(ring.Tail(100)));
        Assert.Equal("hij", Text(ring.Tail(3)));
        Assert.Equal(string.Empty, Text(ring.Tail(0)));
        Assert.Equal(10, ring.Written);
    }

    [Fact]
    public void A_write_larger_than_the_ring_should_keep_its_last_bytes()
    {
        var ring = new ConsoleRing(4);
        ring.Write(Bytes("x"));
        ring.Write(Bytes("0123456789"));

        Assert.Equal("6789", Text(ring.Tail(4)));
        Assert.Equal(11, ring.Written);
    }

    [Fact]
    public async Task Attach_should_deliver_the_history_asked_for_then_live_output_until_complete()
    {
        var ring = new ConsoleRing(64);
        ring.Write(Bytes("old line\n"));
        using var subscription = ring.Attach(fromTail: 5);
        ring.Write(Bytes("new\n"));
        ring.Complete();
        ring.Write(Bytes("after the end\n"));

        var received = new StringBuilder();
        await foreach (var chunk in subscription.Output.ReadAllAsync(TestContext.Current.CancellationToken))
        {
            received.Append(Encoding.ASCII.GetString(chunk.Span));
        }

        Assert.Equal("line\nnew\n", received.ToString());
    }

    [Fact]
    public void Output_should_be_kept_while_nobody_is_attached()
    {
        var ring = new ConsoleRing(1024);
        for (var i = 0; i < 100; i++)
        {
            ring.Write(Bytes($"{i}\n"));
        }

        using var late = ring.Attach(fromTail: 1024);
        Assert.True(late.Output.TryRead(out var history));
        Assert.StartsWith("0\n1\n2\n", Encoding.ASCII.GetString(history.Span));
    }

    [Fact]
    public async Task A_reader_that_falls_too_far_behind_should_be_detached_and_memory_stay_bounded()
    {
        var ring = new ConsoleRing(1024);
        var stalled = ring.Attach();
        using var reading = ring.Attach();
        var chunk = new byte[64 * 1024];
        for (var i = 0; i < (ConsoleRing.MaxBehind / chunk.Length) + 2; i++)
        {
            ring.Write(chunk);
            while (reading.Output.TryRead(out _))
            {
            }
        }

        Assert.Equal(1, ring.Attached);
        var drained = 0L;
        var error = await Assert.ThrowsAsync<ConsoleOverrunException>(async () =>
        {
            await foreach (var c in stalled.Output.ReadAllAsync(TestContext.Current.CancellationToken))
            {
                drained += c.Length;
            }
        });
        Assert.Contains("attach again", error.Message);
        Assert.True(drained <= ConsoleRing.MaxBehind, $"{drained} bytes were queued for a stalled reader");
        stalled.Dispose();
    }

    [Fact]
    public async Task Disposing_a_subscription_should_detach_it()
    {
        var ring = new ConsoleRing(16);
        var subscription = ring.Attach();
        Assert.Equal(1, ring.Attached);

        subscription.Dispose();
        subscription.Dispose();

        Assert.Equal(0, ring.Attached);
        await subscription.Output.Completion.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task Concurrent_writers_and_readers_should_lose_nothing_a_reader_keeps_up_with()
    {
        var ring = new ConsoleRing(1 << 16);
        using var subscription = ring.Attach();
        var writers = Enumerable.Range(0, 4).Select(w => Task.Run(
            () =>
            {
                for (var i = 0; i < 1000; i++)
                {
                    ring.Write(Bytes("0123456789"));
                }
            },
            TestContext.Current.CancellationToken)).ToArray();
        var total = 0L;
        var reader = Task.Run(
            async () =>
            {
                await foreach (var c in subscription.Output.ReadAllAsync(CancellationToken.None))
                {
                    total += c.Length;
                }
            },
            TestContext.Current.CancellationToken);

        await Task.WhenAll(writers);
        ring.Complete();
        await reader.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.Equal(40_000, total);
        Assert.Equal(40_000, ring.Written);
    }
}
