namespace ActorVmm.Devices;

/// <summary>
/// A device on the PIO or MMIO bus, as a plain class (no actors). Offsets are relative to the start of the range
/// the device is mapped at. Implementations check the access size first, count unhandled accesses and never throw
/// for anything a guest can do: reads of unknown registers fill <paramref name="data"/> with all-ones.
/// </summary>
public interface IBusDevice
{
    /// <summary>Stable name used in logs, traces and fault plans (e.g. <c>serial0</c>, <c>disk0</c>).</summary>
    string Name { get; }

    void Read(ulong offset, Span<byte> data);

    void Write(ulong offset, ReadOnlySpan<byte> data);
}
