using ActorVmm.Actors.Settings;
using ActorVmm.Actors.Snapshots;
using ActorVmm.Host.Settings;
using ActorVmm.Kvm;
using ActorVmm.Kvm.Interop;
using ActorVmm.Kvm.Memory;
using ActorVmm.Kvm.X86;

namespace ActorVmm.Host.Composition;

/// <summary>
/// A snapshot being restored: its state file read and checked (format, checksum), the settings to build with, and
/// the checks a restore makes before anything starts — the disks are the ones snapshotted (same file unchanged, or a
/// copy of the same size), the RAM layout matches, every vCPU's CPUID is what this host's KVM gives.
/// </summary>
internal sealed class SnapshotSource
{
    private SnapshotSource(string directory, VmSnapshotState state, VmSettings settings)
    {
        Directory = directory;
        State = state;
        Settings = settings;
    }

    public string Directory { get; }

    public VmSnapshotState State { get; }

    /// <summary>The VM settings to build the restored machine with.</summary>
    public VmSettings Settings { get; }

    public string MemoryFile => Path.Combine(Directory, SnapshotDirectory.MemoryFileName);

    /// <exception cref="VmBuildException">The snapshot cannot be restored here (one line naming why).</exception>
    public static SnapshotSource Open(string directory, VmSettings local)
    {
        var full = Path.GetFullPath(directory);
        if (!System.IO.Directory.Exists(full))
        {
            throw new VmBuildException($"snapshot {directory}: no such directory");
        }

        VmSnapshotState state;
        try
        {
            state = SnapshotFile.Read(Path.Combine(full, SnapshotDirectory.StateFileName));
        }
        catch (SnapshotFormatException e)
        {
            throw new VmBuildException(e.Message, e);
        }

        VmSettings settings;
        try
        {
            settings = SnapshotSettings.Apply(local, state.Settings, $"snapshot {directory}");
        }
        catch (SettingsException e)
        {
            throw new VmBuildException(e.Message, e);
        }

        CheckDisks(directory, state, settings);
        var memory = new FileInfo(Path.Combine(full, SnapshotDirectory.MemoryFileName));
        var ram = state.Memory.Aggregate(0UL, (sum, r) => sum + r.Size);
        if (!memory.Exists || (ulong)memory.Length != ram)
        {
            throw new VmBuildException(memory.Exists
                ? $"snapshot {directory}: {SnapshotDirectory.MemoryFileName} holds {memory.Length} bytes, the VM had {ram}"
                : $"snapshot {directory}: {SnapshotDirectory.MemoryFileName} is missing");
        }

        return new SnapshotSource(full, state, settings);
    }

    /// <summary>The RAM regions the machine would get must be the snapshot's.</summary>
    public void CheckMemory(IReadOnlyList<(GuestAddress Start, ulong Size)> ram)
    {
        var same = ram.Count == State.Memory.Length
            && ram.Zip(State.Memory).All(p => p.First.Start.Value == p.Second.GuestAddress && p.First.Size == p.Second.Size);
        if (!same)
        {
            throw new VmBuildException($"snapshot {Directory}: its RAM layout differs from this build's (another actorvmm version?)");
        }
    }

    /// <summary>vCPU <paramref name="id"/>'s state, after checking its CPUID against what this host gives (<paramref name="cpuid"/>).</summary>
    public VcpuState VcpuState(int id, ReadOnlySpan<KvmCpuidEntry2> cpuid)
    {
        var (state, saved) = Decode(() => VcpuBlob.Decode(State.Vcpus[id]));
        if (state.Id != id)
        {
            throw new VmBuildException($"snapshot {Directory}: vCPU blob {id} holds vCPU {state.Id}");
        }

        if (CpuidDifference(saved, cpuid) is { } difference)
        {
            throw new VmBuildException(
                $"snapshot {Directory}: vcpu{id}'s CPUID differs from what this host's KVM gives ({difference}): it cannot be restored here");
        }

        return state;
    }

    public VmKvmState VmState() => Decode(() => VcpuBlob.DecodeVm(State.VmKvm));

    /// <summary>Whether the snapshot saved a device of this name.</summary>
    public bool HasDevice(string name) => State.Devices.Any(d => d.Name == name);

    /// <summary>The saved state of each device, by name; the devices built must be exactly the snapshot's.</summary>
    public IReadOnlyDictionary<string, object?> DeviceStates(IEnumerable<string> built)
    {
        var names = built.ToList();
        var saved = State.Devices.Select(d => d.Name).ToList();
        if (!names.OrderBy(n => n, StringComparer.Ordinal).SequenceEqual(saved.OrderBy(n => n, StringComparer.Ordinal)))
        {
            throw new VmBuildException(
                $"snapshot {Directory}: it has devices {string.Join(",", saved)}; this VM would have {string.Join(",", names)} (the same serial/COM ports are needed)");
        }

        return State.Devices.ToDictionary(d => d.Name, d => d.State);
    }

    internal static string? CpuidDifference(ReadOnlySpan<KvmCpuidEntry2> saved, ReadOnlySpan<KvmCpuidEntry2> now)
    {
        foreach (var entry in saved)
        {
            var match = X86Cpuid.Find(now, entry.Function, entry.Index);
            if (match is not { } other)
            {
                return $"leaf 0x{entry.Function:x}.{entry.Index} is gone";
            }

            if (other.Eax != entry.Eax || other.Ebx != entry.Ebx || other.Ecx != entry.Ecx || other.Edx != entry.Edx)
            {
                return $"leaf 0x{entry.Function:x}.{entry.Index}: was {entry.Eax:x8} {entry.Ebx:x8} {entry.Ecx:x8} {entry.Edx:x8}, now {other.Eax:x8} {other.Ebx:x8} {other.Ecx:x8} {other.Edx:x8}";
            }
        }

        return saved.Length == now.Length ? null : $"{saved.Length} leaves then, {now.Length} now";
    }

    private static void CheckDisks(string directory, VmSnapshotState state, VmSettings settings)
    {
        for (var i = 0; i < state.Disks.Length; i++)
        {
            var saved = state.Disks[i];
            var path = settings.Disks[i].Path;
            var file = new FileInfo(path);
            if (!file.Exists)
            {
                throw new VmBuildException($"snapshot {directory}: {saved.Device}'s disk {path} is gone");
            }

            if (file.Length != saved.Size)
            {
                throw new VmBuildException(
                    $"snapshot {directory}: {saved.Device}'s disk {path} is {file.Length} bytes, it was {saved.Size}: not the disk snapshotted");
            }

            var same = string.Equals(file.FullName, saved.Path, StringComparison.Ordinal);
            if (same && file.LastWriteTimeUtc != saved.LastWriteUtc)
            {
                throw new VmBuildException(
                    $"snapshot {directory}: {saved.Device}'s disk {path} changed since the snapshot (written {file.LastWriteTimeUtc:O}): restore with the disk as it was, or give a copy taken with the snapshot");
            }
        }
    }

    private T Decode<T>(Func<T> decode)
    {
        try
        {
            return decode();
        }
        catch (InvalidDataException e)
        {
            throw new VmBuildException($"snapshot {Directory}: {e.Message}", e);
        }
    }
}
