namespace ActorVmm.Actors.Endpoints;

/// <summary>The protocol of a device actor (see <see cref="DeviceActor"/> and <see cref="DeviceEndpoint"/>).</summary>
public static class DeviceProtocol
{
    /// <summary>A posted read; the answer goes to <paramref name="Slot"/> under <paramref name="Ticket"/>.</summary>
    public sealed record Read(ulong Offset, int Size, ReplySlot Slot, int Ticket);

    /// <summary>A posted write of <paramref name="Size"/> (1..8) bytes, little-endian in <paramref name="Value"/>.</summary>
    public sealed record Write(ulong Offset, ulong Value, int Size);

    /// <summary>Queue <paramref name="Queue"/> was kicked (an ioeventfd fired): the device's <see cref="ActorVmm.Devices.IQueueNotifiable.NotifyQueue"/>.</summary>
    public sealed record NotifyQueue(int Queue);

    /// <summary>The device threw on a vCPU thread (inline access); the actor rethrows so its supervisor decides.</summary>
    public sealed record Crashed(Exception Cause);

    /// <summary>Asks for the device's saved state (reply: <see cref="State"/>; null when not stateful).</summary>
    public sealed record GetState
    {
        public static readonly GetState Instance = new();
    }

    public sealed record State(object? Value);
}
