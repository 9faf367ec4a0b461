namespace ActorVmm.Devices.Legacy;

/// <summary>State of a <see cref="FastA20Gate"/>.</summary>
public sealed record FastA20GateState(byte Value);
