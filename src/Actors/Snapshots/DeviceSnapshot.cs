namespace ActorVmm.Actors.Snapshots;

/// <summary>One device's saved state (<see cref="ActorVmm.Devices.IStatefulDevice.SaveState"/>; null when not stateful).</summary>
public sealed record DeviceSnapshot(string Name, object? State);
