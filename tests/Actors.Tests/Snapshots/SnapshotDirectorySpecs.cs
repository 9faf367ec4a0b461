using ActorVmm.Actors.Snapshots;
using Xunit;

namespace ActorVmm.Actors.Tests.Snapshots;

public sealed class SnapshotDirectorySpecs : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), $"actorvmm-snapdir-{Guid.NewGuid():N}");

    public SnapshotDirectorySpecs() => Directory.CreateDirectory(_root);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void SnapshotDirectory_should_create_a_new_directory_with_its_parents()
    {
        var dir = Path.Combine(_root, "a", "snap1");

        var created = SnapshotDirectory.Create(dir);

        Assert.Equal(Path.GetFullPath(dir), created);
        Assert.True(Directory.Exists(dir));
        Assert.Equal(Path.Combine(dir, "state.bin"), SnapshotDirectory.StatePath(dir));
        Assert.Equal(Path.Combine(dir, "memory.bin"), SnapshotDirectory.MemoryPath(dir));
    }

    [Fact]
    public void SnapshotDirectory_should_use_an_existing_empty_directory()
    {
        var dir = Directory.CreateDirectory(Path.Combine(_root, "empty")).FullName;

        Assert.Equal(dir, SnapshotDirectory.Create(dir));
    }

    [Fact]
    public void SnapshotDirectory_should_refuse_a_directory_that_is_not_empty()
    {
        var dir = Directory.CreateDirectory(Path.Combine(_root, "used")).FullName;
        File.WriteAllText(SnapshotDirectory.StatePath(dir), "old");

        var ex = Assert.Throws<IOException>(() => SnapshotDirectory.Create(dir));

        Assert.Equal($"snapshot directory {dir} already exists and is not empty: choose a new one", ex.Message);
        Assert.Equal("old", File.ReadAllText(SnapshotDirectory.StatePath(dir)));
    }

    [Fact]
    public void SnapshotDirectory_should_refuse_a_file_in_the_way()
    {
        var file = Path.Combine(_root, "file");
        File.WriteAllText(file, "x");

        var ex = Assert.Throws<IOException>(() => SnapshotDirectory.Create(file));

        Assert.Equal($"snapshot directory {file}: a file is in the way", ex.Message);
    }
}
