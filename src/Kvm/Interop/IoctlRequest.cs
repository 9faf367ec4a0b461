namespace ActorVmm.Kvm.Interop;

/// <summary>An ioctl request number together with its name, so every failure names the ioctl that failed.</summary>
internal readonly record struct IoctlRequest(string Name, nuint Number)
{
    private const uint DirNone = 0;
    private const uint DirWrite = 1;
    private const uint DirRead = 2;

    /// <summary>_IO(type, nr).</summary>
    public static IoctlRequest Io(string name, uint type, uint nr) => new(name, Encode(DirNone, type, nr, 0));

    /// <summary>_IOR(type, nr, size): the kernel writes <paramref name="size"/> bytes.</summary>
    public static IoctlRequest IoR(string name, uint type, uint nr, int size) => new(name, Encode(DirRead, type, nr, size));

    /// <summary>_IOW(type, nr, size): the kernel reads <paramref name="size"/> bytes.</summary>
    public static IoctlRequest IoW(string name, uint type, uint nr, int size) => new(name, Encode(DirWrite, type, nr, size));

    /// <summary>_IOWR(type, nr, size).</summary>
    public static IoctlRequest IoWR(string name, uint type, uint nr, int size) => new(name, Encode(DirRead | DirWrite, type, nr, size));

    private static nuint Encode(uint dir, uint type, uint nr, int size)
    {
        if (size is < 0 or >= 1 << 14)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, "ioctl argument size must fit in 14 bits");
        }

        return (dir << 30) | ((uint)size << 16) | (type << 8) | nr;
    }

    public override string ToString() => $"{Name} (0x{Number:X})";
}
