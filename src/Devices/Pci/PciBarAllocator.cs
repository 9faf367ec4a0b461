namespace ActorVmm.Devices.Pci;

/// <summary>
/// Hands out naturally aligned BAR addresses from a window of the 32-bit MMIO gap
/// (<see cref="ActorVmm.Kvm.Layout.PciMmio32Start"/> on the machine), bottom up. Not thread-safe:
/// the VM builder uses it while wiring devices.
/// </summary>
public sealed class PciBarAllocator
{
    private ulong _next;

    public PciBarAllocator(ulong start, ulong end)
    {
        if (end <= start)
        {
            throw new ArgumentException($"PCI MMIO window 0x{start:x}..0x{end:x} is empty", nameof(end));
        }

        Start = start;
        End = end;
        _next = start;
    }

    public ulong Start { get; }

    /// <summary>Exclusive end of the window.</summary>
    public ulong End { get; }

    /// <summary>A block of <paramref name="size"/> bytes (a power of two, at least 4 KiB) aligned to its size.</summary>
    public ulong Allocate(ulong size)
    {
        if (size < 4096 || (size & (size - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, "BAR size must be a power of two of at least 4 KiB");
        }

        var address = (_next + size - 1) & ~(size - 1);
        if (address < _next || address > End || End - address < size)
        {
            throw new InvalidOperationException(
                $"PCI MMIO window 0x{Start:x}..0x{End:x} has no room for a BAR of 0x{size:x} bytes");
        }

        _next = address + size;
        return address;
    }
}
