using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ActorVmm.Kvm.Interop;

/// <summary>
/// struct kvm_run (x86-64), the page shared with the kernel for one vCPU. The exit union starts at offset 32.
/// Only <see cref="Vcpu"/> reads it; the mapping is larger than this struct (the PIO data page follows).
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 2352)]
internal struct KvmRun
{
    public const uint ExitIo = 2;
    public const uint ExitHlt = 5;
    public const uint ExitMmio = 6;
    public const uint ExitShutdown = 8;
    public const uint ExitFailEntry = 9;
    public const uint ExitIntr = 10;
    public const uint ExitInternalError = 17;
    public const uint ExitSystemEvent = 24;

    [FieldOffset(0)]
    public byte RequestInterruptWindow;

    [FieldOffset(1)]
    public byte ImmediateExit;

    [FieldOffset(8)]
    public uint ExitReason;

    [FieldOffset(12)]
    public byte ReadyForInterruptInjection;

    [FieldOffset(13)]
    public byte IfFlag;

    [FieldOffset(14)]
    public ushort Flags;

    [FieldOffset(16)]
    public ulong Cr8;

    [FieldOffset(24)]
    public ulong ApicBase;

    [FieldOffset(32)]
    public KvmRunHw Hw;

    [FieldOffset(32)]
    public KvmRunFailEntry FailEntry;

    [FieldOffset(32)]
    public KvmRunIo Io;

    [FieldOffset(32)]
    public KvmRunMmio Mmio;

    [FieldOffset(32)]
    public KvmRunInternal Internal;

    [FieldOffset(32)]
    public KvmRunSystemEvent SystemEvent;

    [FieldOffset(288)]
    public ulong KvmValidRegs;

    [FieldOffset(296)]
    public ulong KvmDirtyRegs;
}

[StructLayout(LayoutKind.Sequential)]
internal struct KvmRunHw
{
    public ulong HardwareExitReason;
}

[StructLayout(LayoutKind.Sequential)]
internal struct KvmRunFailEntry
{
    public ulong HardwareEntryFailureReason;
    public uint Cpu;
}

[StructLayout(LayoutKind.Sequential)]
internal struct KvmRunIo
{
    public const byte DirectionIn = 0;
    public const byte DirectionOut = 1;

    public byte Direction;
    public byte Size;
    public ushort Port;
    public uint Count;

    /// <summary>Offset of the data bytes from the start of kvm_run.</summary>
    public ulong DataOffset;
}

[StructLayout(LayoutKind.Sequential)]
internal struct KvmRunMmio
{
    public ulong PhysAddr;
    public KvmMmioData Data;
    public uint Len;
    public byte IsWrite;
}

[InlineArray(8)]
internal struct KvmMmioData
{
    private byte _element0;
}

[StructLayout(LayoutKind.Sequential)]
internal struct KvmRunInternal
{
    public uint Suberror;
    public uint Ndata;
    public KvmRunData16 Data;
}

[StructLayout(LayoutKind.Sequential)]
internal struct KvmRunSystemEvent
{
    public uint Type;
    public uint Ndata;
    public KvmRunData16 Data;
}

[InlineArray(16)]
internal struct KvmRunData16
{
    private ulong _element0;
}
