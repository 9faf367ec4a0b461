using System.Buffers.Binary;
using System.Runtime.InteropServices;
using ActorVmm.Kvm.Memory;

namespace ActorVmm.Kvm.Boot;

/// <summary>
/// Loads a Linux bzImage (boot protocol 2.06 or later with a 64-bit entry point) into guest memory: the setup
/// header is parsed and kept for the zero page, the protected-mode kernel is copied to
/// <see cref="Layout.KernelLoadAddress"/>. Every size in the image is treated as untrusted.
/// </summary>
public static class BzImageLoader
{
    /// <summary>The oldest boot protocol accepted (2.06: cmdline_size).</summary>
    public const ushort MinimumProtocol = 0x0206;

    private const int BootFlagOffset = 0x1fe;
    private const int JumpOffset = 0x200;
    private const int HeaderMagicOffset = 0x202;
    private const int VersionOffset = 0x206;

    /// <summary>Loads the bzImage at <paramref name="path"/>.</summary>
    /// <exception cref="BootException">The file is unreadable or not a loadable bzImage, or does not fit.</exception>
    public static KernelLoadResult Load(GuestMemory memory, string path)
    {
        using var stream = ImageStream.Open(path, "kernel image");
        return Load(memory, stream);
    }

    /// <summary>Loads a bzImage read from <paramref name="kernel"/> (from its current position; need not be seekable).</summary>
    /// <exception cref="BootException">The image is not a loadable bzImage, or does not fit in guest RAM.</exception>
    public static KernelLoadResult Load(GuestMemory memory, Stream kernel)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(kernel);
        return ImageStream.Guard("kernel image", () => LoadCore(memory, kernel));
    }

    /// <summary>
    /// Parses and validates the setup header from the first bytes of a bzImage (at least up to the end of the
    /// header, 0x26c bytes, when the image has that many). Fields past the header's declared end read as zero.
    /// </summary>
    /// <exception cref="BootException">Bad magic, truncated header, protocol older than 2.06, or no 64-bit entry.</exception>
    public static SetupHeader ParseSetupHeader(ReadOnlySpan<byte> image)
    {
        if (image.Length < VersionOffset + 2)
        {
            throw new BootException(BootError.Truncated,
                $"kernel image is {image.Length} bytes, too short for a bzImage setup header");
        }

        if (BinaryPrimitives.ReadUInt16LittleEndian(image[BootFlagOffset..]) != SetupHeader.BootFlagMagic
            || BinaryPrimitives.ReadUInt32LittleEndian(image[HeaderMagicOffset..]) != SetupHeader.HeaderMagic)
        {
            throw new BootException(BootError.BadMagic, "kernel image is not a bzImage (no 0xAA55 boot flag / \"HdrS\" magic)");
        }

        var version = BinaryPrimitives.ReadUInt16LittleEndian(image[VersionOffset..]);
        if (version < MinimumProtocol)
        {
            throw new BootException(BootError.ProtocolTooOld,
                $"kernel speaks boot protocol {version >> 8}.{version & 0xff:d2}; 2.06 or later is required");
        }

        // The header ends at 0x202 + the byte at 0x201 (the short jump over it).
        var declaredEnd = HeaderMagicOffset + image[JumpOffset + 1];
        if (declaredEnd < 0x23c)
        {
            throw new BootException(BootError.InvalidImage,
                $"setup header of a 2.06+ kernel ends at 0x{declaredEnd:x}, before cmdline_size");
        }

        var end = Math.Min(declaredEnd, SetupHeader.ImageOffset + SetupHeader.Size);
        if (image.Length < end)
        {
            throw new BootException(BootError.Truncated,
                $"kernel image is {image.Length} bytes, its setup header ends at 0x{end:x}");
        }

        Span<byte> raw = stackalloc byte[SetupHeader.Size];
        raw.Clear();
        image[SetupHeader.ImageOffset..end].CopyTo(raw);
        var header = MemoryMarshal.Read<SetupHeader>(raw);

        if ((header.LoadFlags & SetupHeader.LoadedHigh) == 0)
        {
            throw new BootException(BootError.Unsupported, "kernel is a zImage (LOADED_HIGH clear); only bzImage is supported");
        }

        if (version < 0x020c || (header.XLoadFlags & SetupHeader.XlfKernel64) == 0)
        {
            throw new BootException(BootError.Unsupported, "kernel has no 64-bit entry point (XLF_KERNEL_64 clear)");
        }

        if (header.SysSize == 0)
        {
            throw new BootException(BootError.InvalidImage, "setup header says the protected-mode kernel is empty (syssize 0)");
        }

        return header;
    }

    private static KernelLoadResult LoadCore(GuestMemory memory, Stream kernel)
    {
        // Boot sector + 1 setup sector always precede the protected-mode kernel (setup_sects >= 1).
        var head = new byte[1024];
        var got = ImageStream.ReadAtMost(kernel, head);
        var header = ParseSetupHeader(head.AsSpan(0, got));

        var setupSize = (ulong)header.SetupSize;
        if ((ulong)got < setupSize && ImageStream.Skip(kernel, setupSize - (ulong)got) < setupSize - (ulong)got)
        {
            throw new BootException(BootError.Truncated,
                $"kernel image ends inside its real-mode setup ({header.EffectiveSetupSects} setup sectors declared)");
        }

        var load = new GuestAddress(Layout.KernelLoadAddress);
        var kernelSize = (ulong)header.SysSize * 16;
        var end = RunTimeEnd(header, load, kernelSize);
        if (!memory.IsValidRange(load, end.Value - load.Value))
        {
            throw new BootException(BootError.KernelDoesNotFit,
                $"kernel needs guest RAM from {load} to {end} (image 0x{kernelSize:x} bytes, init_size 0x{header.InitSize:x}); guest RAM does not cover it");
        }

        var copied = ImageStream.CopyToGuest(kernel, memory, load, ulong.MaxValue, n =>
            new BootException(BootError.KernelDoesNotFit,
                $"kernel image runs past guest RAM ({n} bytes from {load})"));
        if (copied < kernelSize)
        {
            throw new BootException(BootError.Truncated,
                $"protected-mode kernel is {copied} bytes, its header declares {kernelSize}");
        }

        var result = new KernelLoadResult(
            KernelImageKind.BzImage,
            load,
            copied,
            load.CheckedAdd(Layout.Kernel64BitEntryOffset),
            Max(end, load.CheckedAdd(copied)),
            header,
            header.Version,
            Math.Min((ulong)header.CmdlineSize + 1, Layout.CmdlineMaxSize),
            header.InitrdAddrMax);
        return result;
    }

    /// <summary>
    /// The first address past what the kernel touches while it boots. A 2.10+ kernel decompresses itself to its
    /// run-time address (the load address aligned up to kernel_alignment, but not below pref_address, for a
    /// relocatable kernel; pref_address otherwise) and needs init_size bytes there.
    /// </summary>
    private static GuestAddress RunTimeEnd(SetupHeader header, GuestAddress load, ulong kernelSize)
    {
        if (!load.TryAdd(kernelSize, out var imageEnd))
        {
            throw new BootException(BootError.InvalidImage, $"protected-mode kernel size 0x{kernelSize:x} overflows");
        }

        if (header.Version < 0x020a || header.InitSize == 0)
        {
            return imageEnd;
        }

        GuestAddress runTime;
        if (header.RelocatableKernel != 0)
        {
            var alignment = (ulong)header.KernelAlignment;
            if (alignment == 0 || (alignment & (alignment - 1)) != 0)
            {
                throw new BootException(BootError.InvalidImage,
                    $"relocatable kernel has kernel_alignment 0x{alignment:x}, not a power of two");
            }

            runTime = Max(load.AlignUp(alignment), new GuestAddress(header.PrefAddress));
        }
        else
        {
            runTime = new GuestAddress(header.PrefAddress);
        }

        if (!runTime.TryAdd(header.InitSize, out var runTimeEnd) || runTime < load)
        {
            throw new BootException(BootError.InvalidImage,
                $"kernel run-time address 0x{runTime.Value:x} with init_size 0x{header.InitSize:x} is impossible");
        }

        return Max(imageEnd, runTimeEnd);
    }

    private static GuestAddress Max(GuestAddress a, GuestAddress b) => a > b ? a : b;
}
