namespace ActorVmm.Devices.Pci;

/// <summary>A function on the PCI bus: its configuration space, reached through <see cref="PciConfigIo"/>.</summary>
public interface IPciDevice : IConfigSpace
{
    string Name { get; }

    /// <summary>The configuration space as the VMM set it up (the BARs, interrupt pin and line).</summary>
    PciConfiguration Configuration { get; }
}
