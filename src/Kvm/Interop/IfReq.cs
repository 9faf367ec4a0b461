using System.Runtime.InteropServices;

namespace ActorVmm.Kvm.Interop;

/// <summary>
/// struct ifreq as TUNSETIFF / TUNGETIFF use it: the interface name (IFNAMSIZ bytes, NUL-terminated), then a union
/// of which only ifr_flags is used. 40 bytes on x86-64 (the union's largest member, struct ifmap, is 24).
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 40)]
internal unsafe struct IfReq
{
    [FieldOffset(0)]
    public fixed byte Name[TunIoctls.NameSize];

    [FieldOffset(16)]
    public short Flags;
}
