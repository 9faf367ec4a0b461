namespace ActorVmm.Actors.Snapshots;

/// <summary>
/// A snapshot is a directory: <see cref="StateFileName"/> (<see cref="SnapshotFile"/>: CPU, device and VM state)
/// and <see cref="MemoryFileName"/> (guest RAM, sparse raw, regions in <see cref="VmSnapshotState.Memory"/> order).
/// </summary>
public static class SnapshotDirectory
{
    public const string StateFileName = "state.bin";

    public const string MemoryFileName = "memory.bin";

    public static string StatePath(string directory) => Path.Combine(directory, StateFileName);

    public static string MemoryPath(string directory) => Path.Combine(directory, MemoryFileName);

    /// <summary>
    /// Creates <paramref name="directory"/> for a new snapshot (parents too); an existing empty directory is used.
    /// Never overwrites: a non-empty directory or a file at that path is refused. Returns its full path.
    /// </summary>
    /// <exception cref="IOException">The path holds a file or a non-empty directory (one line naming it).</exception>
    public static string Create(string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        var full = Path.GetFullPath(directory);
        if (File.Exists(full))
        {
            throw new IOException($"snapshot directory {full}: a file is in the way");
        }

        if (Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any())
        {
            throw new IOException($"snapshot directory {full} already exists and is not empty: choose a new one");
        }

        Directory.CreateDirectory(full);
        return full;
    }
}
