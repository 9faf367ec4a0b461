namespace ActorVmm.Devices.Pci;

/// <summary>What a base address register decodes.</summary>
public enum PciBarKind
{
    /// <summary>A 32-bit memory BAR (one register).</summary>
    Memory32,

    /// <summary>A 64-bit memory BAR (this register and the next).</summary>
    Memory64,

    /// <summary>An I/O port BAR.</summary>
    Io,
}
