using System.Runtime.CompilerServices;
using ActorVmm.Kvm.Interop;
using Xunit;

namespace ActorVmm.Kvm.Tests.Interop;

public class TunLayoutTests
{
    [Fact]
    public void IfReq_should_match_struct_ifreq_on_x86_64()
    {
        var s = default(IfReq);
        Assert.Equal(40, Unsafe.SizeOf<IfReq>());
        Assert.Equal(16, (int)Unsafe.ByteOffset(ref Unsafe.As<IfReq, byte>(ref s), ref Unsafe.As<short, byte>(ref s.Flags)));
    }

    [Fact]
    public void Tun_ioctl_numbers_should_match_linux_if_tun_h()
    {
        Assert.Equal((nuint)0x400454CA, TunIoctls.SetIff.Number);
        Assert.Equal((nuint)0x400454D0, TunIoctls.SetOffload.Number);
        Assert.Equal((nuint)0x800454D2, TunIoctls.GetIff.Number);
        Assert.Equal((nuint)0x400454D8, TunIoctls.SetVnetHdrSz.Number);
    }
}
