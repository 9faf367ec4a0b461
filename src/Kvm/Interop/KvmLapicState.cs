using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ActorVmm.Kvm.Interop;

/// <summary>struct kvm_lapic_state: the 1 KiB local APIC register page (registers at their MMIO offsets).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmLapicState
{
    public const int Size = 1024;

    public KvmLapicRegisters Regs;

    /// <summary>Reads the 32-bit register at <paramref name="offset"/> (a multiple of 16 below 0x400).</summary>
    public readonly uint GetRegister(int offset)
    {
        CheckOffset(offset);
        ReadOnlySpan<byte> regs = Regs;
        return BinaryPrimitives.ReadUInt32LittleEndian(regs.Slice(offset, 4));
    }

    /// <summary>Writes the 32-bit register at <paramref name="offset"/> (a multiple of 16 below 0x400).</summary>
    public void SetRegister(int offset, uint value)
    {
        CheckOffset(offset);
        Span<byte> regs = Regs;
        BinaryPrimitives.WriteUInt32LittleEndian(regs.Slice(offset, 4), value);
    }

    private static void CheckOffset(int offset)
    {
        if (offset < 0 || offset > Size - 16 || offset % 16 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), offset, "LAPIC register offsets are multiples of 0x10 below 0x400");
        }
    }
}

/// <summary>kvm_lapic_state.regs[1024].</summary>
[InlineArray(KvmLapicState.Size)]
public struct KvmLapicRegisters
{
    private byte _element0;
}
