namespace ActorVmm.Devices.Pci;

/// <summary>A function on the PCI bus: its configuration space, reached through <see cref="PciConfigIo"/>.</summary>
public interface IPciDevice
{
    string Name { get; }

    /// <summary>The configuration space as the VMM set it up (the BARs, interrupt pin and line).</summary>
    PciConfiguration Configuration { get; }

    /// <summary>Reads config space; <paramref name="offset"/> and length lie within one dword of 0..255.</summary>
    void ReadConfig(int offset, Span<byte> data);

    /// <summary>Writes config space; <paramref name="offset"/> and length lie within one dword of 0..255.</summary>
    void WriteConfig(int offset, ReadOnlySpan<byte> data);
}
