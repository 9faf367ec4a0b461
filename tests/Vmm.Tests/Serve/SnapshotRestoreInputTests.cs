using System.IO.Compression;
using ActorVmm.Actors.Snapshots;
using ActorVmm.Devices.Legacy;
using ActorVmm.Host.Composition;
using ActorVmm.Host.Settings;
using ActorVmm.Vmm.Tests.Support;

namespace ActorVmm.Vmm.Tests.Serve;

/// <summary>
/// What a restore checks before it opens /dev/kvm (so these run without KVM): the checked-in version 1 snapshot still
/// reads and decodes, and a corrupt, truncated or newer snapshot, a missing memory file, or a disk that is gone,
/// changed or another size is one line naming the problem, with nothing built.
/// </summary>
public sealed class SnapshotRestoreInputTests : IDisposable
{
    private readonly string _work = Path.Combine(Path.GetTempPath(), $"restore-input-{Guid.NewGuid():N}");

    public SnapshotRestoreInputTests() => Directory.CreateDirectory(_work);

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [Fact]
    public void The_checked_in_version_1_snapshot_should_read_and_decode_every_part()
    {
        var state = SnapshotFile.Read(Path.Combine(CounterSnapshotTests.Fixture, SnapshotDirectory.StateFileName));

        Assert.Equal(1, state.FormatVersion);
        var (vcpu, cpuid) = VcpuBlob.Decode(Assert.Single(state.Vcpus));
        Assert.Equal(0, vcpu.Id);
        Assert.NotEmpty(cpuid);
        Assert.NotEmpty(vcpu.Msrs);
        _ = VcpuBlob.DecodeVm(state.VmKvm);
        Assert.IsType<Serial16550State>(state.Devices.Single(d => d.Name == "serial0").State);
        Assert.Equal(16UL << 20, state.Memory.Aggregate(0UL, (sum, r) => sum + r.Size));
        Assert.Empty(state.Disks);
        var settings = SnapshotSettings.Apply(SettingsLoader.Parse(string.Empty, "local").Vm, state.Settings, "fixture");
        Assert.Equal(1, settings.Cpus);
        Assert.Equal(16UL << 20, settings.MemoryBytes);
    }

    [Fact]
    public void A_corrupt_snapshot_should_be_refused_naming_the_checksum()
    {
        var dir = Fixture();
        var state = Path.Combine(dir, SnapshotDirectory.StateFileName);
        var bytes = File.ReadAllBytes(state);
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(state, bytes);

        Assert.Contains("checksum mismatch: the file is corrupt", Refusal(dir), StringComparison.Ordinal);
    }

    [Fact]
    public void A_truncated_snapshot_should_be_refused_as_truncated()
    {
        var dir = Fixture();
        var state = Path.Combine(dir, SnapshotDirectory.StateFileName);
        File.WriteAllBytes(state, File.ReadAllBytes(state)[..^100]);

        Assert.Contains("truncated", Refusal(dir), StringComparison.Ordinal);
    }

    [Fact]
    public void A_snapshot_of_a_newer_format_should_be_refused_asking_for_an_upgrade()
    {
        var dir = Fixture();
        var state = Path.Combine(dir, SnapshotDirectory.StateFileName);
        var bytes = File.ReadAllBytes(state);
        BitConverter.TryWriteBytes(bytes.AsSpan(8, 4), SnapshotFile.CurrentVersion + 1);
        File.WriteAllBytes(state, bytes);

        Assert.Contains("newer than this actorvmm reads", Refusal(dir), StringComparison.Ordinal);
    }

    [Fact]
    public void A_snapshot_without_its_memory_file_should_be_refused()
    {
        var dir = Fixture();
        File.Delete(Path.Combine(dir, SnapshotDirectory.MemoryFileName));

        Assert.EndsWith("memory.bin is missing", Refusal(dir), StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_snapshot_directory_should_be_refused()
    {
        Assert.EndsWith("no such directory", Refusal(Path.Combine(_work, "nothing")), StringComparison.Ordinal);
    }

    [Fact]
    public void A_disk_that_is_gone_changed_or_of_another_size_should_be_refused_and_a_same_size_copy_accepted_as_far_as_the_disks_go()
    {
        var disk = Path.Combine(_work, "disk.img");
        File.WriteAllBytes(disk, new byte[1 << 16]);
        var dir = Fixture(withDisk: disk);

        File.SetLastWriteTimeUtc(disk, File.GetLastWriteTimeUtc(disk).AddSeconds(5));
        Assert.Contains("changed since the snapshot", Refusal(dir), StringComparison.Ordinal);

        var bigger = Path.Combine(_work, "bigger.img");
        File.WriteAllBytes(bigger, new byte[1 << 17]);
        Assert.Contains("is 131072 bytes, it was 65536: not the disk snapshotted", Refusal(dir, bigger), StringComparison.Ordinal);

        var copy = Path.Combine(_work, "copy.img");
        File.WriteAllBytes(copy, new byte[1 << 16]);
        var accepted = TryBuild(dir, copy);
        Assert.True(accepted is null || !accepted.Contains("disk", StringComparison.Ordinal), accepted);

        File.Delete(disk);
        Assert.Contains("disk0's disk " + disk + " is gone", Refusal(dir), StringComparison.Ordinal);
    }

    /// <summary>A copy of the checked-in snapshot (optionally recorded with one disk) in a directory of its own.</summary>
    private string Fixture(string? withDisk = null)
    {
        var dir = Path.Combine(_work, $"snap-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        var state = SnapshotFile.Read(Path.Combine(CounterSnapshotTests.Fixture, SnapshotDirectory.StateFileName));
        if (withDisk is not null)
        {
            var file = new FileInfo(withDisk);
            var settings = SettingsLoader.Parse(state.Settings, "fixture").Vm with { Disks = [new DiskSettings(withDisk, false)] };
            state = state with
            {
                Settings = SnapshotSettings.Render(settings, settings.Kernel, settings.Initrd),
                Disks = [new DiskReference("disk0", file.FullName, file.Length, file.LastWriteTimeUtc, false)],
            };
        }

        SnapshotFile.Write(Path.Combine(dir, SnapshotDirectory.StateFileName), state);
        using var input = new GZipStream(File.OpenRead(Path.Combine(CounterSnapshotTests.Fixture, SnapshotDirectory.MemoryFileName + ".gz")), CompressionMode.Decompress);
        using var output = File.Create(Path.Combine(dir, SnapshotDirectory.MemoryFileName));
        input.CopyTo(output);
        return dir;
    }

    /// <summary>The one line building a restore of <paramref name="dir"/> fails with.</summary>
    private static string Refusal(string dir, string? disk = null) =>
        TryBuild(dir, disk) ?? throw new Xunit.Sdk.XunitException($"restoring {dir} should have been refused");

    /// <summary>Builds a restore of <paramref name="dir"/>: the one-line error, or null when it built (where KVM is; released again).</summary>
    private static string? TryBuild(string dir, string? disk)
    {
        var disks = disk is null ? string.Empty : $"\nactorvmm.vm.disks = [\"{disk}\"]";
        var settings = SettingsLoader.Parse($"actorvmm.vm.restore = \"{dir}\"{disks}", "test");
        try
        {
            VmBuilder.Build(settings, VmIo.Disconnected).Blueprint.Resources?.Dispose();
            return null;
        }
        catch (Exception e) when (e is VmBuildException or ActorVmm.Kvm.KvmUnavailableException)
        {
            Assert.DoesNotContain('\n', e.Message);
            return e.Message;
        }
    }
}
