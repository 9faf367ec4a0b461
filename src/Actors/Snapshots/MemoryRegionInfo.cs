namespace ActorVmm.Actors.Snapshots;

/// <summary>A guest RAM region stored in <c>memory.bin</c>: where it sits in the guest and how big it is.</summary>
public sealed record MemoryRegionInfo(ulong GuestAddress, ulong Size);
