using ActorVmm.Devices;

namespace ActorVmm.Actors.Irq;

/// <summary>The protocol of <see cref="IrqActor"/>.</summary>
public static class IrqProtocol
{
    /// <summary>Creates (or joins) the lines devices asked for. Reply: <see cref="Connected"/> or <see cref="ConnectFailed"/>.</summary>
    public sealed record Connect(IReadOnlyList<(string Device, IrqRequest Request)> Requests);

    /// <summary>Each requesting device's line, by device name.</summary>
    public sealed record Connected(IReadOnlyDictionary<string, IInterruptLine> Lines);

    public sealed record ConnectFailed(string Reason);

    /// <summary>Reply: <see cref="Routing"/>.</summary>
    public sealed record GetRouting
    {
        public static readonly GetRouting Instance = new();
    }

    /// <summary>The routing table (device → GSI) and the live per-GSI counters.</summary>
    public sealed record Routing(IReadOnlyDictionary<string, uint> DeviceToGsi, IrqStats Stats);
}
