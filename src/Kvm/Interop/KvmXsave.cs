using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ActorVmm.Kvm.Interop;

/// <summary>
/// struct kvm_xsave: the guest's XSAVE area (legacy FXSAVE region, XSAVE header at 512, extended state). 4096 bytes.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmXsave
{
    public const int Size = 4096;

    /// <summary>Offset of MXCSR in the legacy region.</summary>
    public const int MxcsrOffset = 24;

    /// <summary>Offset of XSTATE_BV in the XSAVE header.</summary>
    public const int XstateBvOffset = 512;

    /// <summary>XSTATE_BV bit for SSE state (XMM registers and MXCSR).</summary>
    public const ulong XfeatureSse = 1 << 1;

    public KvmXsaveRegion Region;

    public uint Mxcsr
    {
        readonly get => BinaryPrimitives.ReadUInt32LittleEndian(((ReadOnlySpan<byte>)Region)[MxcsrOffset..]);
        set => BinaryPrimitives.WriteUInt32LittleEndian(((Span<byte>)Region)[MxcsrOffset..], value);
    }

    public ulong XstateBv
    {
        readonly get => BinaryPrimitives.ReadUInt64LittleEndian(((ReadOnlySpan<byte>)Region)[XstateBvOffset..]);
        set => BinaryPrimitives.WriteUInt64LittleEndian(((Span<byte>)Region)[XstateBvOffset..], value);
    }
}

/// <summary>kvm_xsave.region as bytes.</summary>
[InlineArray(KvmXsave.Size)]
public struct KvmXsaveRegion
{
    private byte _element0;
}
