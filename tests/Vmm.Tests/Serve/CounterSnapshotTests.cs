using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;
using ActorVmm.Actors.Snapshots;
using ActorVmm.Host.Serve;
using ActorVmm.Vmm.Tests.Support;
using Akka.Actor;
using Akka.Configuration;

namespace ActorVmm.Vmm.Tests.Serve;

/// <summary>
/// Snapshots of the smallest guest (<see cref="CounterProgram"/>): one taken now restores in another actor system
/// and counts on; the one checked in under tests/Vmm.Tests/Snapshots/counter-v1 (format version 1) still reads and
/// restores, so a format change that breaks old snapshots fails here (it was taken with 20,000,000 wait loops a step;
/// the fresh one waits 2,000,000). Setting ACTORVMM_SAVE_COUNTER_SNAPSHOT=DIR
/// keeps the fresh snapshot there (state.bin, memory.bin.gz) to check in as the next fixture.
/// </summary>
[Trait("Category", "Kvm")]
public sealed partial class CounterSnapshotTests : IAsyncLifetime
{
    private readonly string _work = Path.Combine(Checkout.Root(), "artifacts", "test-images", $"counter-{Guid.NewGuid():N}");
    private readonly List<ActorSystem> _systems = [];

    public static string Fixture => Path.Combine(Checkout.Root(), "tests", "Vmm.Tests", "Snapshots", "counter-v1");

    public ValueTask InitializeAsync()
    {
        Directory.CreateDirectory(_work);
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var system in _systems)
        {
            await system.Terminate();
        }

        Directory.Delete(_work, recursive: true);
    }

    [Fact]
    public async Task A_counter_snapshot_should_restore_in_another_actor_system_and_count_on_from_its_value()
    {
        var ct = TestContext.Current.CancellationToken;
        var kernel = Path.Combine(_work, "counter.elf");
        await File.WriteAllBytesAsync(kernel, CounterProgram.Elf(), ct);
        var first = new VmService(NewSystem());
        await first.CreateAsync("counter", $$"""{"cpus":1,"memory":"16M","kernel":"{{kernel}}"}""", ct);
        await first.StartAsync("counter", ct);
        Assert.True(await ProcessCounts.EventuallyAsync(() => Counts(first.ConsoleTail("counter", 4096)).LastOrDefault() >= 3, GuestRun.Deadline),
            "the counter never reached 3: " + Encoding.ASCII.GetString(first.ConsoleTail("counter", 4096)));
        await first.PauseAsync("counter", ct);
        var snapshot = Path.Combine(_work, "snap");
        var taken = await first.SnapshotAsync("counter", snapshot, ct);
        Assert.Equal(16L << 20, taken.MemoryBytes);
        Assert.True(taken.MemoryWrittenBytes < (1L << 20), $"a 16 MiB guest that touched a few pages wrote {taken.MemoryWrittenBytes} bytes");
        await first.DeleteAsync("counter", ct);
        var atSnapshot = CounterIn(Path.Combine(snapshot, SnapshotDirectory.MemoryFileName));
        Assert.True(atSnapshot >= 3, $"counter in the snapshot's RAM: {atSnapshot}");

        var restored = await RestoreAndCountAsync(snapshot, atSnapshot, ct);

        Assert.InRange(restored, atSnapshot, atSnapshot + 1);
        Assert.Equal(atSnapshot, CounterIn(Path.Combine(snapshot, SnapshotDirectory.MemoryFileName)));
        if (Environment.GetEnvironmentVariable("ACTORVMM_SAVE_COUNTER_SNAPSHOT") is { Length: > 0 } save)
        {
            Directory.CreateDirectory(save);
            File.Copy(Path.Combine(snapshot, SnapshotDirectory.StateFileName), Path.Combine(save, SnapshotDirectory.StateFileName), overwrite: true);
            await using var input = File.OpenRead(Path.Combine(snapshot, SnapshotDirectory.MemoryFileName));
            await using var output = new GZipStream(File.Create(Path.Combine(save, SnapshotDirectory.MemoryFileName + ".gz")), CompressionLevel.SmallestSize);
            await input.CopyToAsync(output, ct);
        }
    }

    [Fact]
    public async Task The_checked_in_version_1_counter_snapshot_should_restore_and_count_on()
    {
        var ct = TestContext.Current.CancellationToken;
        var snapshot = Path.Combine(_work, "fixture");
        Directory.CreateDirectory(snapshot);
        File.Copy(Path.Combine(Fixture, SnapshotDirectory.StateFileName), Path.Combine(snapshot, SnapshotDirectory.StateFileName));
        await using (var input = new GZipStream(File.OpenRead(Path.Combine(Fixture, SnapshotDirectory.MemoryFileName + ".gz")), CompressionMode.Decompress))
        await using (var output = File.Create(Path.Combine(snapshot, SnapshotDirectory.MemoryFileName)))
        {
            await input.CopyToAsync(output, ct);
        }

        var atSnapshot = CounterIn(Path.Combine(snapshot, SnapshotDirectory.MemoryFileName));

        var restored = await RestoreAndCountAsync(snapshot, atSnapshot, ct);

        Assert.InRange(restored, atSnapshot, atSnapshot + 1);
    }

    [Fact]
    public async Task A_snapshot_whose_CPUID_this_host_does_not_give_should_be_refused_in_one_line_creating_nothing()
    {
        var ct = TestContext.Current.CancellationToken;
        var snapshot = Path.Combine(_work, "other-cpu");
        Directory.CreateDirectory(snapshot);
        var state = SnapshotFile.Read(Path.Combine(Fixture, SnapshotDirectory.StateFileName));
        var (vcpu, cpuid) = VcpuBlob.Decode(state.Vcpus[0]);
        var leaf = Array.FindIndex(cpuid, e => e.Function == 1);
        cpuid[leaf].Ecx ^= 1u << 31; // the hypervisor bit: no KVM takes it away
        SnapshotFile.Write(Path.Combine(snapshot, SnapshotDirectory.StateFileName), state with { Vcpus = [VcpuBlob.Encode(vcpu, cpuid)] });
        await using (var input = new GZipStream(File.OpenRead(Path.Combine(Fixture, SnapshotDirectory.MemoryFileName + ".gz")), CompressionMode.Decompress))
        await using (var output = File.Create(Path.Combine(snapshot, SnapshotDirectory.MemoryFileName)))
        {
            await input.CopyToAsync(output, ct);
        }

        var service = new VmService(NewSystem());
        var error = await Assert.ThrowsAsync<VmServiceException>(() => service.CreateAsync("other", $$"""{"restore":"{{snapshot}}"}""", ct));

        Assert.Equal(400, error.Status);
        Assert.Contains("vcpu0's CPUID differs from what this host's KVM gives (leaf 0x1.0", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
        Assert.Empty(service.List());
    }

    /// <summary>Restores in a new actor system; returns the first whole "count N" line's N once two more followed.</summary>
    private async Task<long> RestoreAndCountAsync(string snapshot, long atSnapshot, CancellationToken ct)
    {
        var service = new VmService(NewSystem());
        var info = await service.CreateAsync("restored", $$"""{"restore":"{{snapshot}}"}""", ct);
        Assert.Equal(VmStates.Running, info.State);
        Assert.True(await ProcessCounts.EventuallyAsync(() => Counts(service.ConsoleTail("restored", 4096)).Count >= 3, GuestRun.Deadline),
            $"the restored counter should go on from {atSnapshot}: " + Encoding.ASCII.GetString(service.ConsoleTail("restored", 4096)));
        var counts = Counts(service.ConsoleTail("restored", 4096));
        Assert.Equal(Enumerable.Range(0, counts.Count).Select(i => counts[0] + i), counts);
        await service.DeleteAsync("restored", ct);
        return counts[0];
    }

    private ActorSystem NewSystem()
    {
        var system = ActorSystem.Create("counter-snapshot", ConfigurationFactory.ParseString("akka.loglevel = WARNING\nakka.stdout-loglevel = WARNING"));
        _systems.Add(system);
        return system;
    }

    /// <summary>The counter's qword in a snapshot's RAM file.</summary>
    private static long CounterIn(string memoryFile)
    {
        using var file = File.OpenRead(memoryFile);
        var bytes = new byte[8];
        file.Position = (long)CounterProgram.CounterAddress;
        file.ReadExactly(bytes);
        return BinaryPrimitives.ReadInt64LittleEndian(bytes);
    }

    /// <summary>The N of every whole "count N" line (a line cut by the snapshot is not whole).</summary>
    private static List<long> Counts(byte[] console) =>
        [.. CountLine().Matches(Encoding.ASCII.GetString(console)).Select(m => long.Parse(m.Groups[1].Value))];

    [GeneratedRegex(@"(?<=^|\n)count (\d+)\r?\n")]
    private static partial Regex CountLine();
}
