namespace ActorVmm.Devices.Pci;

/// <summary>The guest programmed a BAR to a new address (sizing probes excluded); the bus must remap it.</summary>
public sealed record PciBarMovedEventArgs(int BarIndex, ulong OldAddress, ulong NewAddress, ulong Size);
