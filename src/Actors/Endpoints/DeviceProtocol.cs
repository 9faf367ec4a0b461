namespace ActorVmm.Actors.Endpoints;

/// <summary>The protocol of a device actor (see <see cref="DeviceActor"/> and <see cref="DeviceEndpoint"/>).</summary>
public static class DeviceProtocol
{
    /// <summary>A posted read; the answer goes to <paramref name="Slot"/> under <paramref name="Ticket"/> (skipped if given up on).</summary>
    public sealed record Read(AccessSpace Space, ulong Offset, int Size, ReplySlot Slot, int Ticket);

    /// <summary>
    /// A posted write of <paramref name="Size"/> (1..8) bytes, little-endian in <paramref name="Value"/>. With a
    /// <see cref="Slot"/> the writer waits for it (posted accesses were over their bound).
    /// </summary>
    public sealed record Write(AccessSpace Space, ulong Offset, ulong Value, int Size)
    {
        public ReplySlot? Slot { get; init; }

        public int Ticket { get; init; }
    }

    /// <summary>Host input for the device (<see cref="ActorVmm.Devices.IHostInput"/>), e.g. a terminal's keystrokes.</summary>
    public sealed record HostInput(byte[] Data);

    /// <summary>The device threw on another thread (inline access, queue worker); the actor rethrows so its supervisor decides.</summary>
    public sealed record Crashed(Exception Cause);

    /// <summary>
    /// A host request to crash the device (<see cref="DeviceEndpoint.Crash"/>): the actor fails with
    /// <see cref="RequestedDeviceCrash"/>, counted like a device exception.
    /// </summary>
    public sealed record CrashNow(string Device, string Why);

    /// <summary>From the supervisor after it resumed the device: serve accesses with the same instance again.</summary>
    public sealed record Reinstall
    {
        public static readonly Reinstall Instance = new();
    }

    /// <summary>Asks for the device's saved state (reply: <see cref="State"/>; null when not stateful).</summary>
    public sealed record GetState
    {
        public static readonly GetState Instance = new();
    }

    public sealed record State(object? Value);
}
