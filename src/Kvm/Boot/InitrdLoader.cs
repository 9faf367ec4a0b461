using ActorVmm.Kvm.Memory;

namespace ActorVmm.Kvm.Boot;

/// <summary>
/// Loads an initrd as high as the kernel allows: page-aligned, ending at or below
/// min(initrd_addr_max + 1, end of the RAM below the MMIO gap), and never below the kernel's end.
/// </summary>
public static class InitrdLoader
{
    /// <summary>Loads the initrd at <paramref name="path"/>.</summary>
    /// <exception cref="BootException">The file is unreadable, empty, or does not fit.</exception>
    public static InitrdLoadResult Load(GuestMemory memory, string path, KernelLoadResult kernel)
    {
        using var stream = ImageStream.Open(path, "initrd");
        return Load(memory, stream, kernel);
    }

    /// <summary>
    /// Loads an initrd from <paramref name="initrd"/> (its current position to its end). A stream that cannot seek is
    /// buffered first, up to the space available.
    /// </summary>
    /// <exception cref="BootException">The initrd is empty or does not fit.</exception>
    public static InitrdLoadResult Load(GuestMemory memory, Stream initrd, KernelLoadResult kernel)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(initrd);
        ArgumentNullException.ThrowIfNull(kernel);
        return ImageStream.Guard("initrd", () => LoadCore(memory, initrd, kernel));
    }

    /// <summary>
    /// Where an initrd of <paramref name="size"/> bytes goes: the highest page-aligned address such that it ends at
    /// or below min(initrd_addr_max + 1, end of low RAM) and starts at or above the kernel's end.
    /// </summary>
    /// <exception cref="BootException">It does not fit.</exception>
    public static GuestAddress Place(GuestMemory memory, KernelLoadResult kernel, ulong size)
    {
        var (floor, ceiling) = Window(memory, kernel);
        if (size == 0 || ceiling < floor || size > ceiling - floor
            || new GuestAddress(ceiling - size).AlignDown(GuestMemory.PageSize).Value < floor)
        {
            throw new BootException(BootError.InitrdDoesNotFit,
                $"initrd of {size} bytes does not fit between the kernel end 0x{floor:x} and 0x{ceiling:x}");
        }

        return new GuestAddress(ceiling - size).AlignDown(GuestMemory.PageSize);
    }

    private static (ulong Floor, ulong Ceiling) Window(GuestMemory memory, KernelLoadResult kernel)
    {
        var floor = kernel.End.AlignUp(GuestMemory.PageSize).Value;
        var region = memory.FindRegion(kernel.LoadAddress);
        if (region is null)
        {
            return (floor, 0);
        }

        var lowRamEnd = Math.Min(region.End.Value, Layout.MmioGapStart);
        var addrMaxEnd = kernel.InitrdAddressMax == ulong.MaxValue ? ulong.MaxValue : kernel.InitrdAddressMax + 1;
        return (floor, Math.Min(lowRamEnd, addrMaxEnd));
    }

    private static InitrdLoadResult LoadCore(GuestMemory memory, Stream initrd, KernelLoadResult kernel)
    {
        var (floor, ceiling) = Window(memory, kernel);
        var room = ceiling > floor ? ceiling - floor : 0;
        Stream source = initrd;
        MemoryStream? buffered = null;
        try
        {
            if (!initrd.CanSeek)
            {
                buffered = new MemoryStream();
                var limit = (long)Math.Min(room, int.MaxValue - 1UL) + 1;
                var copied = CopyAtMost(initrd, buffered, limit);
                if (copied >= limit)
                {
                    throw new BootException(BootError.InitrdDoesNotFit,
                        $"initrd is larger than the 0x{room:x} bytes available between the kernel and 0x{ceiling:x}");
                }

                buffered.Position = 0;
                source = buffered;
            }

            var size = (ulong)(source.Length - source.Position);
            if (size == 0)
            {
                throw new BootException(BootError.InvalidImage, "initrd is empty");
            }

            var address = Place(memory, kernel, size);
            var written = ImageStream.CopyToGuest(source, memory, address, size, n =>
                new BootException(BootError.InitrdDoesNotFit, $"initrd at {address} runs past guest RAM"));
            if (written != size)
            {
                throw new BootException(BootError.Truncated, $"initrd ended after {written} of {size} bytes");
            }

            return new InitrdLoadResult(address, size);
        }
        finally
        {
            buffered?.Dispose();
        }
    }

    private static long CopyAtMost(Stream from, Stream to, long limit)
    {
        var buffer = new byte[1 << 16];
        long total = 0;
        while (total < limit)
        {
            var n = from.Read(buffer, 0, (int)Math.Min(buffer.Length, limit - total));
            if (n == 0)
            {
                break;
            }

            to.Write(buffer, 0, n);
            total += n;
        }

        return total;
    }
}
