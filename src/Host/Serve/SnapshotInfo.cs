namespace ActorVmm.Host.Serve;

/// <summary>
/// <c>POST /vms/{id}/snapshot</c>: where the snapshot went, the bytes of machine state and of guest memory it holds,
/// the memory bytes actually written (untouched pages stay holes), how long the VM was held for it, and the virtio
/// requests the guest had queued that no worker had taken (in the snapshot, served after a restore).
/// </summary>
public sealed record SnapshotInfo(string Id, string Dir, long StateBytes, long MemoryBytes, long MemoryWrittenBytes, double TookMs, int WaitingRequests = 0);
