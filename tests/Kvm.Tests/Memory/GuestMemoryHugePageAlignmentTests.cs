using ActorVmm.Kvm.Memory;
using Xunit;

namespace ActorVmm.Kvm.Tests.Memory;

public class GuestMemoryHugePageAlignmentTests
{
    private const ulong TwoMiB = 2UL << 20;

    [Fact]
    public void Regions_of_2MiB_or_more_should_have_host_addresses_congruent_to_their_guest_addresses_modulo_2MiB()
    {
        // Several tries: a plain 4 KiB-aligned mmap lands 2 MiB-aligned only by chance.
        for (var i = 0; i < 8; i++)
        {
            using var memory = GuestMemory.Create(
            [
                (new GuestAddress(0), 16UL << 20),
                (new GuestAddress((1UL << 32) + (1UL << 20)), 8UL << 20),
            ]);

            foreach (var region in memory.Regions)
            {
                Assert.Equal(region.Start.Value % TwoMiB, (ulong)region.HostAddress % TwoMiB);
            }
        }
    }

    [Fact]
    public void An_aligned_region_should_be_usable_to_its_last_byte_and_read_back_zero_first()
    {
        using var memory = GuestMemory.Create([(new GuestAddress(0), 4UL << 20)]);
        var last = new GuestAddress((4UL << 20) - 1);

        Assert.Equal(0, memory.GetSpan(last, 1)[0]);
        memory.GetSpan(last, 1)[0] = 0x5A;
        memory.GetSpan(GuestAddress.Zero, 1)[0] = 0xA5;

        Assert.Equal(0x5A, memory.GetSpan(last, 1)[0]);
        Assert.Equal(0xA5, memory.GetSpan(GuestAddress.Zero, 1)[0]);
    }
}
