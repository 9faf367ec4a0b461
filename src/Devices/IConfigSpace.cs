namespace ActorVmm.Devices;

/// <summary>A device with a PCI configuration space besides its bus range (reached through its endpoint, one access at a time).</summary>
public interface IConfigSpace
{
    /// <summary>Reads config space; <paramref name="offset"/> and length lie within one dword of 0..255.</summary>
    void ReadConfig(int offset, Span<byte> data);

    /// <summary>Writes config space; <paramref name="offset"/> and length lie within one dword of 0..255.</summary>
    void WriteConfig(int offset, ReadOnlySpan<byte> data);
}
