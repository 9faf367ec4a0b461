using System.Runtime.CompilerServices;

namespace ActorVmm.Kvm.Interop;

/// <summary>The TUN/TAP ioctl numbers and flags used here, as &lt;linux/if_tun.h&gt; defines them (x86-64).</summary>
internal static class TunIoctls
{
    private const uint TunType = 'T';

    public static readonly IoctlRequest SetIff = IoctlRequest.IoW("TUNSETIFF", TunType, 202, sizeof(int));
    public static readonly IoctlRequest SetOffload = IoctlRequest.IoW("TUNSETOFFLOAD", TunType, 208, sizeof(uint));
    public static readonly IoctlRequest GetIff = IoctlRequest.IoR("TUNGETIFF", TunType, 210, sizeof(uint));
    public static readonly IoctlRequest SetVnetHdrSz = IoctlRequest.IoW("TUNSETVNETHDRSZ", TunType, 216, sizeof(int));

    public const short IffTap = 0x0002;
    public const short IffMultiQueue = 0x0100;
    public const short IffNoPi = 0x1000;
    public const short IffVnetHdr = 0x4000;

    /// <summary>IFNAMSIZ: an interface name and its NUL.</summary>
    public const int NameSize = 16;

    public static int IfReqSize => Unsafe.SizeOf<IfReq>();
}
