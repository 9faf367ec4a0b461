namespace ActorVmm.Actors.Bus;

/// <summary>The two address spaces a vCPU exit can target.</summary>
public enum BusSpace
{
    /// <summary>x86 I/O ports (IN/OUT), 16-bit addresses.</summary>
    Pio,

    /// <summary>Guest-physical addresses not backed by RAM.</summary>
    Mmio,
}
