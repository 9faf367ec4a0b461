namespace ActorVmm.Host.Serve;

/// <summary>
/// <c>GET /vms/{id}/devices</c>: one device. <c>kind</c>: serial, i8042, cmos, virtio-blk, virtio-console, virtio-rng,
/// ...; <c>state</c>: running, restarting, stopped or fail-stopped.
/// </summary>
public sealed record DeviceInfo(string Name, string Kind, string State, long Restarts, long Failures, long FaultsFired);
