using System.Buffers.Binary;

namespace ActorVmm.Devices.Virtio;

/// <summary>One discard / write-zeroes range as the guest wrote it (struct virtio_blk_discard_write_zeroes).</summary>
internal readonly record struct VirtioBlockRange(ulong Sector, uint Sectors, uint Flags)
{
    /// <summary>Bytes of one range: le64 sector, le32 num_sectors, le32 flags.</summary>
    public const int Length = 16;

    public static VirtioBlockRange Parse(ReadOnlySpan<byte> raw) => new(
        BinaryPrimitives.ReadUInt64LittleEndian(raw),
        BinaryPrimitives.ReadUInt32LittleEndian(raw[8..]),
        BinaryPrimitives.ReadUInt32LittleEndian(raw[12..]));
}
