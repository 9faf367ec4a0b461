namespace ActorVmm.Devices.Legacy;

/// <summary>State of a <see cref="PortSink"/>: the last value written (null if none) and where.</summary>
public sealed record PortSinkState(uint? LastValue, ulong LastWriteOffset);
