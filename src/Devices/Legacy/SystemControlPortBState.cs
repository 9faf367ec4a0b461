namespace ActorVmm.Devices.Legacy;

/// <summary>State of a <see cref="SystemControlPortB"/>.</summary>
public sealed record SystemControlPortBState(byte Value, bool Toggle);
