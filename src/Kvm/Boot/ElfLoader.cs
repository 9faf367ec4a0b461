using System.Buffers.Binary;
using ActorVmm.Kvm.Memory;

namespace ActorVmm.Kvm.Boot;

/// <summary>
/// Loads an uncompressed ELF64 x86-64 kernel (vmlinux): every PT_LOAD segment goes to its physical address
/// (p_paddr), its tail past p_filesz is zeroed, and the ELF entry point (startup_64) becomes RIP.
/// Every offset and size in the file is bounds-checked against the file and guest RAM.
/// </summary>
public static class ElfLoader
{
    private const int EhdrSize = 64;
    private const int PhdrSize = 56;
    private const ushort EmX8664 = 62;
    private const ushort EtExec = 2;
    private const ushort EtDyn = 3;
    private const uint PtLoad = 1;
    private const int MaxProgramHeaders = 1024;

    /// <summary>Loads the vmlinux at <paramref name="path"/>.</summary>
    /// <exception cref="BootException">The file is unreadable, not an x86-64 ELF64 executable, or does not fit.</exception>
    public static KernelLoadResult Load(GuestMemory memory, string path)
    {
        using var stream = ImageStream.Open(path, "kernel image");
        return Load(memory, stream);
    }

    /// <summary>Loads a vmlinux from a seekable <paramref name="kernel"/> stream (offsets are relative to its start).</summary>
    /// <exception cref="ArgumentException">The stream cannot seek.</exception>
    /// <exception cref="BootException">The image is not an x86-64 ELF64 executable, is inconsistent, or does not fit.</exception>
    public static KernelLoadResult Load(GuestMemory memory, Stream kernel)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(kernel);
        if (!kernel.CanSeek)
        {
            throw new ArgumentException("an ELF kernel must be read from a seekable stream", nameof(kernel));
        }

        return ImageStream.Guard("kernel image", () => LoadCore(memory, kernel));
    }

    private static KernelLoadResult LoadCore(GuestMemory memory, Stream kernel)
    {
        var fileSize = (ulong)kernel.Length;
        kernel.Position = 0;
        var ehdr = new byte[EhdrSize];
        var got = ImageStream.ReadAtMost(kernel, ehdr);
        if (got >= 4 && !(ehdr[0] == 0x7f && ehdr[1] == (byte)'E' && ehdr[2] == (byte)'L' && ehdr[3] == (byte)'F'))
        {
            throw new BootException(BootError.BadMagic, "kernel image is not an ELF file (no \\x7fELF magic)");
        }

        if (got < EhdrSize)
        {
            throw new BootException(BootError.Truncated, $"ELF kernel is {got} bytes, too short for an ELF64 header");
        }

        if (ehdr[4] != 2 || ehdr[5] != 1)
        {
            throw new BootException(BootError.Unsupported, "ELF kernel is not 64-bit little-endian (ELFCLASS64, ELFDATA2LSB)");
        }

        var type = BinaryPrimitives.ReadUInt16LittleEndian(ehdr.AsSpan(16));
        var machine = BinaryPrimitives.ReadUInt16LittleEndian(ehdr.AsSpan(18));
        var entry = BinaryPrimitives.ReadUInt64LittleEndian(ehdr.AsSpan(24));
        var phoff = BinaryPrimitives.ReadUInt64LittleEndian(ehdr.AsSpan(32));
        var phentsize = BinaryPrimitives.ReadUInt16LittleEndian(ehdr.AsSpan(54));
        var phnum = BinaryPrimitives.ReadUInt16LittleEndian(ehdr.AsSpan(56));

        if (machine != EmX8664)
        {
            throw new BootException(BootError.Unsupported, $"ELF kernel is for machine {machine}, not x86-64 (62)");
        }

        if (type != EtExec && type != EtDyn)
        {
            throw new BootException(BootError.Unsupported, $"ELF kernel has type {type}, not an executable");
        }

        if (phentsize != PhdrSize || phnum == 0 || phnum > MaxProgramHeaders)
        {
            throw new BootException(BootError.InvalidImage,
                $"ELF kernel has {phnum} program headers of {phentsize} bytes (expected 1..{MaxProgramHeaders} of {PhdrSize})");
        }

        var tableSize = (ulong)phnum * PhdrSize;
        if (phoff > fileSize || tableSize > fileSize - phoff)
        {
            throw new BootException(BootError.Truncated,
                $"ELF program headers at 0x{phoff:x} (+0x{tableSize:x}) run past the end of the {fileSize}-byte file");
        }

        var phdrs = new byte[(int)tableSize];
        kernel.Position = (long)phoff;
        if (ImageStream.ReadAtMost(kernel, phdrs) != phdrs.Length)
        {
            throw new BootException(BootError.Truncated, "ELF kernel ends inside its program headers");
        }

        var segments = new List<(ulong Offset, ulong FileSize, GuestAddress Address, ulong MemSize)>();
        for (var i = 0; i < phnum; i++)
        {
            var ph = phdrs.AsSpan(i * PhdrSize, PhdrSize);
            if (BinaryPrimitives.ReadUInt32LittleEndian(ph) != PtLoad)
            {
                continue;
            }

            var offset = BinaryPrimitives.ReadUInt64LittleEndian(ph[8..]);
            var paddr = BinaryPrimitives.ReadUInt64LittleEndian(ph[24..]);
            var filesz = BinaryPrimitives.ReadUInt64LittleEndian(ph[32..]);
            var memsz = BinaryPrimitives.ReadUInt64LittleEndian(ph[40..]);
            if (filesz > memsz)
            {
                throw new BootException(BootError.InvalidImage,
                    $"ELF segment {i} has p_filesz 0x{filesz:x} larger than p_memsz 0x{memsz:x}");
            }

            if (offset > fileSize || filesz > fileSize - offset)
            {
                throw new BootException(BootError.Truncated,
                    $"ELF segment {i} at file offset 0x{offset:x} (+0x{filesz:x}) runs past the end of the {fileSize}-byte file");
            }

            if (memsz == 0)
            {
                continue;
            }

            var address = new GuestAddress(paddr);
            if (!address.TryAdd(memsz, out _) || !memory.IsValidRange(address, memsz))
            {
                throw new BootException(BootError.KernelDoesNotFit,
                    $"ELF segment {i} at {address} (+0x{memsz:x}) is outside guest RAM");
            }

            segments.Add((offset, filesz, address, memsz));
        }

        if (segments.Count == 0)
        {
            throw new BootException(BootError.InvalidImage, "ELF kernel has no loadable segments");
        }

        var low = segments.Min(s => s.Address.Value);
        var high = segments.Max(s => s.Address.Value + s.MemSize);
        if (entry < low || entry >= high)
        {
            throw new BootException(BootError.InvalidImage,
                $"ELF entry point 0x{entry:x} lies outside the loaded segments [0x{low:x}, 0x{high:x})");
        }

        ulong loaded = 0;
        foreach (var (offset, fileSizeOfSegment, address, memSize) in segments)
        {
            kernel.Position = (long)offset;
            var copied = ImageStream.CopyToGuest(kernel, memory, address, fileSizeOfSegment, n =>
                new BootException(BootError.KernelDoesNotFit, $"ELF segment at {address} runs past guest RAM"));
            if (copied != fileSizeOfSegment)
            {
                throw new BootException(BootError.Truncated, $"ELF kernel ends inside the segment for {address}");
            }

            ImageStream.ZeroGuest(memory, address.CheckedAdd(fileSizeOfSegment), memSize - fileSizeOfSegment);
            loaded += fileSizeOfSegment;
        }

        return new KernelLoadResult(
            KernelImageKind.Elf,
            new GuestAddress(low),
            loaded,
            new GuestAddress(entry),
            new GuestAddress(high),
            SynthesisedHeader(),
            0,
            Layout.CmdlineMaxSize,
            Layout.MmioGapStart - 1);
    }

    /// <summary>The header fields the 64-bit entry of a kernel without a bzImage header still looks at.</summary>
    private static SetupHeader SynthesisedHeader() => new()
    {
        BootFlag = SetupHeader.BootFlagMagic,
        Header = SetupHeader.HeaderMagic,
        KernelAlignment = 0x100_0000,
    };
}
