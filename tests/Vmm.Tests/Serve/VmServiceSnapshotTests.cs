using ActorVmm.Host.Serve;
using Akka.Actor;
using Akka.Configuration;

namespace ActorVmm.Vmm.Tests.Serve;

/// <summary>What the service checks before a snapshot reaches the VM (no KVM needed): the VM exists, the directory is usable.</summary>
public sealed class VmServiceSnapshotTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("actorvmm-snap-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static VmServiceException Bad(string dir)
    {
        var error = Assert.Throws<VmServiceException>(() => VmService.SnapshotDirectory(dir));
        Assert.Equal(400, error.Status);
        Assert.DoesNotContain('\n', error.Message);
        return error;
    }

    [Fact]
    public async Task A_snapshot_of_an_unknown_vm_should_be_a_404()
    {
        var system = ActorSystem.Create("snapshot-test", ConfigurationFactory.ParseString("akka.loglevel = WARNING\nakka.stdout-loglevel = WARNING"));
        try
        {
            await using var service = new VmService(system);

            var error = await Assert.ThrowsAsync<VmServiceException>(() => service.SnapshotAsync("nope", _dir, TestContext.Current.CancellationToken));

            Assert.Equal(404, error.Status);
            Assert.Equal("no VM nope", error.Message);
        }
        finally
        {
            await system.Terminate();
        }
    }

    [Fact]
    public void A_new_or_empty_directory_should_be_taken_as_an_absolute_path()
    {
        var relative = Path.GetRelativePath(Environment.CurrentDirectory, Path.Combine(_dir, "new"));

        Assert.Equal(Path.Combine(_dir, "new"), VmService.SnapshotDirectory(relative));
        Assert.Equal(_dir, VmService.SnapshotDirectory(_dir));
        Assert.Equal(Path.Combine(_dir, "a", "b"), VmService.SnapshotDirectory(Path.Combine(_dir, "a", "b")));
    }

    [Fact]
    public void A_directory_with_something_in_it_should_be_refused()
    {
        File.WriteAllText(Path.Combine(_dir, "memory"), "x");

        Assert.Equal($"dir is not empty: {_dir} (a snapshot needs a new or empty directory)", Bad(_dir).Message);
    }

    [Fact]
    public void A_file_should_be_refused()
    {
        var file = Path.Combine(_dir, "file");
        File.WriteAllText(file, "x");

        Assert.Equal($"dir is a file, not a directory: {file}", Bad(file).Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    public void An_empty_dir_should_be_refused(string dir)
    {
        Assert.Equal("dir must name a directory for the snapshot", Bad(dir).Message);
    }
}
