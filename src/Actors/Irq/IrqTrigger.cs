namespace ActorVmm.Actors.Irq;

public enum IrqTrigger
{
    Edge,
    Level,
}

/// <summary>
/// A device's request for an interrupt line on <paramref name="Gsi"/>, and optionally <paramref name="MsiVectors"/>
/// MSI vectors beside it (granted when the backend is an <see cref="IMsiChipBackend"/>: the line the device gets then
/// also implements <see cref="ActorVmm.Devices.IMsiInterrupts"/>).
/// </summary>
public sealed record IrqRequest(uint Gsi, IrqTrigger Trigger = IrqTrigger.Edge, int MsiVectors = 0)
{
    public static IrqRequest Edge(uint gsi) => new(gsi, IrqTrigger.Edge);

    public static IrqRequest Level(uint gsi) => new(gsi, IrqTrigger.Level);
}
