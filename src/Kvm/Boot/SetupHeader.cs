using System.Runtime.InteropServices;

namespace ActorVmm.Kvm.Boot;

/// <summary>
/// The Linux x86 boot protocol's struct setup_header (arch/x86/include/uapi/asm/bootparam.h): found at offset
/// 0x1f1 of a bzImage and copied to the same offset of the zero page. Offsets below are image/zero-page offsets
/// minus <see cref="ImageOffset"/>.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
public struct SetupHeader
{
    /// <summary>Where the header starts, in the image and in struct boot_params.</summary>
    public const int ImageOffset = 0x1f1;

    /// <summary>sizeof(struct setup_header): it ends at 0x26c.</summary>
    public const int Size = 0x26c - ImageOffset;

    /// <summary>"HdrS" read as a little-endian uint.</summary>
    public const uint HeaderMagic = 0x5372_6448;

    /// <summary>boot_flag: the 0xAA55 boot-sector signature.</summary>
    public const ushort BootFlagMagic = 0xAA55;

    /// <summary>loadflags: the protected-mode code is loaded at 0x100000.</summary>
    public const byte LoadedHigh = 0x01;

    /// <summary>loadflags: heap_end_ptr is valid.</summary>
    public const byte CanUseHeap = 0x80;

    /// <summary>xloadflags: the kernel has the legacy 64-bit entry point at load address + 0x200.</summary>
    public const ushort XlfKernel64 = 0x01;

    /// <summary>type_of_loader for a boot loader without an assigned id.</summary>
    public const byte LoaderTypeUndefined = 0xff;

    [FieldOffset(0x1f1 - ImageOffset)] public byte SetupSects;
    [FieldOffset(0x1f2 - ImageOffset)] public ushort RootFlags;
    [FieldOffset(0x1f4 - ImageOffset)] public uint SysSize;
    [FieldOffset(0x1f8 - ImageOffset)] public ushort RamSize;
    [FieldOffset(0x1fa - ImageOffset)] public ushort VidMode;
    [FieldOffset(0x1fc - ImageOffset)] public ushort RootDev;
    [FieldOffset(0x1fe - ImageOffset)] public ushort BootFlag;
    [FieldOffset(0x200 - ImageOffset)] public ushort Jump;
    [FieldOffset(0x202 - ImageOffset)] public uint Header;
    [FieldOffset(0x206 - ImageOffset)] public ushort Version;
    [FieldOffset(0x208 - ImageOffset)] public uint RealModeSwitch;
    [FieldOffset(0x20c - ImageOffset)] public ushort StartSysSeg;
    [FieldOffset(0x20e - ImageOffset)] public ushort KernelVersion;
    [FieldOffset(0x210 - ImageOffset)] public byte TypeOfLoader;
    [FieldOffset(0x211 - ImageOffset)] public byte LoadFlags;
    [FieldOffset(0x212 - ImageOffset)] public ushort SetupMoveSize;
    [FieldOffset(0x214 - ImageOffset)] public uint Code32Start;
    [FieldOffset(0x218 - ImageOffset)] public uint RamdiskImage;
    [FieldOffset(0x21c - ImageOffset)] public uint RamdiskSize;
    [FieldOffset(0x220 - ImageOffset)] public uint BootsectKludge;
    [FieldOffset(0x224 - ImageOffset)] public ushort HeapEndPtr;
    [FieldOffset(0x226 - ImageOffset)] public byte ExtLoaderVer;
    [FieldOffset(0x227 - ImageOffset)] public byte ExtLoaderType;
    [FieldOffset(0x228 - ImageOffset)] public uint CmdLinePtr;
    [FieldOffset(0x22c - ImageOffset)] public uint InitrdAddrMax;
    [FieldOffset(0x230 - ImageOffset)] public uint KernelAlignment;
    [FieldOffset(0x234 - ImageOffset)] public byte RelocatableKernel;
    [FieldOffset(0x235 - ImageOffset)] public byte MinAlignment;
    [FieldOffset(0x236 - ImageOffset)] public ushort XLoadFlags;
    [FieldOffset(0x238 - ImageOffset)] public uint CmdlineSize;
    [FieldOffset(0x23c - ImageOffset)] public uint HardwareSubarch;
    [FieldOffset(0x240 - ImageOffset)] public ulong HardwareSubarchData;
    [FieldOffset(0x248 - ImageOffset)] public uint PayloadOffset;
    [FieldOffset(0x24c - ImageOffset)] public uint PayloadLength;
    [FieldOffset(0x250 - ImageOffset)] public ulong SetupData;
    [FieldOffset(0x258 - ImageOffset)] public ulong PrefAddress;
    [FieldOffset(0x260 - ImageOffset)] public uint InitSize;
    [FieldOffset(0x264 - ImageOffset)] public uint HandoverOffset;
    [FieldOffset(0x268 - ImageOffset)] public uint KernelInfoOffset;

    /// <summary>Number of 512-byte setup sectors after the boot sector (0 in the image means 4).</summary>
    public readonly int EffectiveSetupSects => SetupSects == 0 ? 4 : SetupSects;

    /// <summary>Bytes of real-mode code (boot sector + setup) in front of the protected-mode kernel.</summary>
    public readonly int SetupSize => (EffectiveSetupSects + 1) * 512;
}
