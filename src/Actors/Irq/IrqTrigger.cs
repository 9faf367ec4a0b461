namespace ActorVmm.Actors.Irq;

public enum IrqTrigger
{
    Edge,
    Level,
}

/// <summary>A device's request for an interrupt line on <paramref name="Gsi"/>.</summary>
public sealed record IrqRequest(uint Gsi, IrqTrigger Trigger = IrqTrigger.Edge)
{
    public static IrqRequest Edge(uint gsi) => new(gsi, IrqTrigger.Edge);

    public static IrqRequest Level(uint gsi) => new(gsi, IrqTrigger.Level);
}
