namespace ActorVmm.Host.Serve;

/// <summary>
/// <c>POST /vms/{id}/snapshot</c>: where the snapshot went, the bytes of machine state and of guest memory it holds,
/// the memory bytes actually written (untouched pages stay holes) and how long the VM was held for it.
/// </summary>
public sealed record SnapshotInfo(string Id, string Dir, long StateBytes, long MemoryBytes, long MemoryWrittenBytes, double TookMs);
