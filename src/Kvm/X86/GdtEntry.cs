namespace ActorVmm.Kvm.X86;

/// <summary>Encoding and decoding of 8-byte x86 segment descriptors.</summary>
public static class GdtEntry
{
    /// <summary>
    /// A descriptor from <paramref name="flags"/> (bits 0–7: access byte P/DPL/S/type; bits 12–15: G, D/B, L, AVL),
    /// a 32-bit base and a 20-bit limit.
    /// </summary>
    public static ulong Encode(ushort flags, uint baseAddress, uint limit) =>
        ((ulong)(baseAddress & 0xff00_0000) << 32)
        | ((ulong)(baseAddress & 0x00ff_ffff) << 16)
        | (limit & 0xffffUL)
        | ((ulong)(limit & 0xf_0000) << 32)
        | ((ulong)(flags & 0xf0ff) << 40);

    /// <summary>The segment-register state a descriptor loads, with the given selector.</summary>
    public static SegmentState Decode(ulong entry, ushort selector)
    {
        var baseAddress = ((entry >> 16) & 0x00ff_ffff) | ((entry >> 32) & 0xff00_0000);
        var rawLimit = (uint)((entry & 0xffff) | ((entry >> 32) & 0xf_0000));
        var g = ((entry >> 55) & 1) != 0;
        var present = ((entry >> 47) & 1) != 0;
        return new SegmentState(
            baseAddress,
            g ? (rawLimit << 12) | 0xfff : rawLimit,
            selector,
            (byte)((entry >> 40) & 0xf),
            present,
            (byte)((entry >> 45) & 0x3),
            ((entry >> 54) & 1) != 0,
            ((entry >> 44) & 1) != 0,
            ((entry >> 53) & 1) != 0,
            g,
            ((entry >> 52) & 1) != 0,
            !present);
    }
}
