using ActorVmm.Kvm.Memory;
using Xunit;

namespace ActorVmm.Kvm.Tests.Memory;

public class GuestAddressTests
{
    [Fact]
    public void CheckedAdd_should_throw_on_overflow()
    {
        var e = Assert.Throws<GuestMemoryException>(() => new GuestAddress(ulong.MaxValue - 1).CheckedAdd(2));

        Assert.Equal(GuestMemoryError.AddressOverflow, e.Error);
    }

    [Fact]
    public void CheckedAdd_should_reach_the_top_of_the_address_space_exactly()
    {
        Assert.Equal(new GuestAddress(ulong.MaxValue), new GuestAddress(ulong.MaxValue - 1).CheckedAdd(1));
    }

    [Fact]
    public void TryAdd_should_report_overflow_without_throwing()
    {
        Assert.False(new GuestAddress(1).TryAdd(ulong.MaxValue, out _));
        Assert.True(new GuestAddress(1).TryAdd(2, out var sum));
        Assert.Equal(new GuestAddress(3), sum);
    }

    [Fact]
    public void OffsetFrom_should_refuse_an_address_below_the_base()
    {
        Assert.Equal(0x10UL, new GuestAddress(0x1010).OffsetFrom(new GuestAddress(0x1000)));
        Assert.Throws<GuestMemoryException>(() => new GuestAddress(0xfff).OffsetFrom(new GuestAddress(0x1000)));
    }

    [Fact]
    public void AlignUp_should_round_and_refuse_to_wrap()
    {
        Assert.Equal(new GuestAddress(0x2000), new GuestAddress(0x1001).AlignUp(0x1000));
        Assert.Equal(new GuestAddress(0x1000), new GuestAddress(0x1000).AlignUp(0x1000));
        Assert.Throws<GuestMemoryException>(() => new GuestAddress(ulong.MaxValue).AlignUp(0x1000));
        Assert.Throws<ArgumentOutOfRangeException>(() => new GuestAddress(0).AlignUp(3));
    }
}
