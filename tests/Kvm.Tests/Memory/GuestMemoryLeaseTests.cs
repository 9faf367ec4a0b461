using ActorVmm.Kvm.Memory;
using Xunit;

namespace ActorVmm.Kvm.Tests.Memory;

/// <summary>Guest RAM is never unmapped under a thread that still works on it (a queue worker inside host I/O).</summary>
public sealed class GuestMemoryLeaseTests
{
    [Fact]
    public void Dispose_while_leased_should_keep_ram_mapped_until_the_last_lease_ends()
    {
        var memory = GuestMemory.Create([(GuestAddress.Zero, 1UL << 20)]);
        Assert.True(memory.TryLease());
        Assert.True(memory.TryLease());
        var span = memory.GetSpan(new GuestAddress(0x1000), 16);

        memory.Dispose();
        span.Fill(0x5a); // the worker's buffer: still mapped, no fault
        memory.ReleaseLease();
        Assert.False(memory.Unmapped);
        Assert.Equal(0x5a, span[15]);
        memory.ReleaseLease();

        Assert.True(memory.Unmapped);
        Assert.Equal(0, memory.Leases);
    }

    [Fact]
    public void A_disposed_memory_should_refuse_new_leases_and_unmap_at_once_without_any()
    {
        var memory = GuestMemory.Create([(GuestAddress.Zero, 1UL << 20)]);

        memory.Dispose();

        Assert.True(memory.Unmapped);
        Assert.False(memory.TryLease());
        Assert.Equal(0, memory.Leases);
    }

    [Fact]
    public async Task Leases_racing_a_dispose_should_never_unmap_under_a_holder()
    {
        for (var round = 0; round < 200; round++)
        {
            var memory = GuestMemory.Create([(GuestAddress.Zero, 64UL << 10)]);
            var violations = 0;
            var workers = Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
            {
                for (var i = 0; i < 200; i++)
                {
                    if (!memory.TryLease())
                    {
                        return;
                    }

                    if (memory.Unmapped)
                    {
                        Interlocked.Increment(ref violations);
                    }

                    memory.ReleaseLease();
                }
            }, TestContext.Current.CancellationToken)).ToArray();
            memory.Dispose();
            await Task.WhenAll(workers);

            Assert.Equal(0, violations);
            Assert.True(memory.Unmapped);
        }
    }
}
