namespace ActorVmm.Actors.Bus;

/// <summary>A half-open address range [<see cref="Start"/>, <see cref="Start"/> + <see cref="Length"/>) on one bus.</summary>
public readonly record struct BusRange(BusSpace Space, ulong Start, ulong Length)
{
    public static BusRange Pio(ushort start, ushort length) => new(BusSpace.Pio, start, length);

    public static BusRange Mmio(ulong start, ulong length) => new(BusSpace.Mmio, start, length);

    /// <summary>Last address inside the range (inclusive), so a range may end at the top of the address space.</summary>
    public ulong Last => Start + (Length - 1);

    public bool Overlaps(BusRange other) =>
        Space == other.Space && Start <= other.Last && other.Start <= Last;

    public override string ToString() => $"{Space} 0x{Start:x}-0x{Last:x}";
}
