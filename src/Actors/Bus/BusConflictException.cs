namespace ActorVmm.Actors.Bus;

/// <summary>Thrown when a bus is built with a bad range: two devices overlapping, an empty or wrapping range.</summary>
public sealed class BusConflictException(string message) : Exception(message);
