namespace ActorVmm.Actors.Snapshots;

/// <summary>
/// A disk image a snapshot depends on (not copied into it): restore checks size and last write time so a changed
/// image is noticed instead of corrupting the guest's view of its disk.
/// </summary>
/// <param name="LastWriteUtc">Stored as UTC ticks; a local time is converted, and it reads back with kind UTC.</param>
public sealed record DiskReference(string Device, string Path, long Size, DateTime LastWriteUtc, bool ReadOnly);
