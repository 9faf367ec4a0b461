using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ActorVmm.Kvm.Boot;

/// <summary>
/// struct boot_params, "the zero page" (arch/x86/include/uapi/asm/bootparam.h): 4096 bytes handed to the kernel
/// in RSI. Only the fields a VMM fills are declared; everything else stays zero.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
public struct BootParams
{
    public const int Size = 4096;

    /// <summary>E820_MAX_ENTRIES_ZEROPAGE.</summary>
    public const int MaxE820Entries = 128;

    [FieldOffset(0x070)] public ulong AcpiRsdpAddr;
    [FieldOffset(0x0c0)] public uint ExtRamdiskImage;
    [FieldOffset(0x0c4)] public uint ExtRamdiskSize;
    [FieldOffset(0x0c8)] public uint ExtCmdLinePtr;
    [FieldOffset(0x1e0)] public uint AltMemK;
    [FieldOffset(0x1e8)] public byte E820Entries;
    [FieldOffset(0x1ef)] public byte Sentinel;
    [FieldOffset(0x1f1)] public SetupHeader Hdr;
    [FieldOffset(0x2d0)] public E820Table E820Table;
}

/// <summary>struct boot_e820_entry: 20 packed bytes (Pack = 1 keeps the array stride at 20, not 24).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct E820Entry
{
    public ulong Addr;
    public ulong Size;
    public E820Type Type;

    public E820Entry(ulong addr, ulong size, E820Type type)
    {
        Addr = addr;
        Size = size;
        Type = type;
    }

    /// <summary>The first address past this entry (the builder never produces one that overflows).</summary>
    public readonly ulong End => Addr + Size;

    public override readonly string ToString() => $"[0x{Addr:x}-0x{Addr + Size - 1:x}] {Type}";
}

/// <summary>The e820 memory types Linux understands.</summary>
public enum E820Type : uint
{
    Ram = 1,
    Reserved = 2,
    Acpi = 3,
    Nvs = 4,
    Unusable = 5,
}

/// <summary>boot_params.e820_table: 128 entries.</summary>
[InlineArray(BootParams.MaxE820Entries)]
public struct E820Table
{
    private E820Entry _element0;
}
