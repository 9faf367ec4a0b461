namespace ActorVmm.Devices.Pci;

/// <summary>A base address register the VMM placed: which register, how big, what kind, and where.</summary>
/// <param name="Index">Register number 0..5 (a 64-bit BAR also uses Index + 1).</param>
/// <param name="Size">A power of two: at least 16 for memory, 4 for I/O.</param>
/// <param name="Address">Where the VMM mapped it; naturally aligned to <paramref name="Size"/>.</param>
public sealed record PciBar(int Index, ulong Size, PciBarKind Kind, ulong Address, bool Prefetchable = false);
