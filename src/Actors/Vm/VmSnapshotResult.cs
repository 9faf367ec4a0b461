namespace ActorVmm.Actors.Vm;

/// <summary>
/// A snapshot written by <see cref="VmHandle.SnapshotAsync"/>: its directory, the bytes of machine state (vCPUs,
/// interrupt controller, devices) and of guest memory it holds, how many memory bytes were actually written (pages
/// never touched are left as holes), and how long it took.
/// </summary>
public sealed record VmSnapshotResult(string Directory, long StateBytes, long MemoryBytes, long MemoryWrittenBytes, TimeSpan Took)
{
    /// <summary>virtio requests the guest had queued that no worker had taken: they are in the snapshot and served after a restore.</summary>
    public int WaitingRequests { get; init; }
}
