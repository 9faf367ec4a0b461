using ActorVmm.Kvm.Memory;

namespace ActorVmm.Kvm.Boot;

/// <summary>Loads either kernel format, chosen by its magic: "\x7fELF" → <see cref="ElfLoader"/>, anything else → <see cref="BzImageLoader"/>.</summary>
public static class KernelLoader
{
    /// <summary>Loads the kernel image (bzImage or ELF vmlinux) at <paramref name="path"/>.</summary>
    /// <exception cref="BootException">The file is unreadable or not a loadable kernel, or does not fit.</exception>
    public static KernelLoadResult Load(GuestMemory memory, string path)
    {
        using var stream = ImageStream.Open(path, "kernel image");
        return Load(memory, stream);
    }

    /// <summary>Loads a kernel image (bzImage or ELF vmlinux) from a seekable stream positioned at its start.</summary>
    /// <exception cref="ArgumentException">The stream cannot seek.</exception>
    /// <exception cref="BootException">The image is not a loadable kernel, or does not fit.</exception>
    public static KernelLoadResult Load(GuestMemory memory, Stream kernel)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        if (!kernel.CanSeek)
        {
            throw new ArgumentException("a kernel image of unknown format must be read from a seekable stream", nameof(kernel));
        }

        var start = kernel.Position;
        var got = ImageStream.Guard("kernel image", () =>
        {
            Span<byte> buffer = stackalloc byte[4];
            var n = ImageStream.ReadAtMost(kernel, buffer);
            kernel.Position = start;
            return n == 4 ? BitConverter.ToUInt32(buffer) : 0u;
        });
        return got == 0x464c_457f ? ElfLoader.Load(memory, kernel) : BzImageLoader.Load(memory, kernel);
    }
}
