using ActorVmm.Kvm.Memory;

namespace ActorVmm.Devices.Virtio;

/// <summary>One validated split-ring descriptor: its buffer lies wholly in guest RAM and is not empty.</summary>
public readonly record struct Descriptor(GuestAddress Address, uint Length, ushort Flags, ushort Next)
{
    /// <summary>VIRTQ_DESC_F_NEXT.</summary>
    public const ushort FlagNext = 1;

    /// <summary>VIRTQ_DESC_F_WRITE: device-writable.</summary>
    public const ushort FlagWrite = 2;

    /// <summary>VIRTQ_DESC_F_INDIRECT: the buffer is a table of descriptors.</summary>
    public const ushort FlagIndirect = 4;

    /// <summary>Size of a descriptor in the table.</summary>
    public const int Size = 16;

    public bool HasNext => (Flags & FlagNext) != 0;

    public bool IsWriteOnly => (Flags & FlagWrite) != 0;

    public bool IsIndirect => (Flags & FlagIndirect) != 0;
}
