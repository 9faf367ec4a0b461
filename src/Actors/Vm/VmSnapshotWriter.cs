using System.Collections.Immutable;
using System.Diagnostics;
using ActorVmm.Actors.Endpoints;
using ActorVmm.Actors.Snapshots;
using ActorVmm.Kvm;
using ActorVmm.Kvm.Memory;
using ActorVmm.Kvm.X86;

namespace ActorVmm.Actors.Vm;

/// <summary>
/// Writes a paused VM into a snapshot directory: every device held still (queue workers off) and saved, every vCPU's
/// and the VM's KVM state, guest RAM as a sparse file, and the state file last — a directory without one is no
/// snapshot. On failure the directory is removed again (when this call created it) or emptied of what it wrote.
/// </summary>
public static class VmSnapshotWriter
{
    /// <summary>The failures a snapshot reports as one line (anything else is a bug and propagates).</summary>
    public static bool IsExpected(Exception ex) =>
        ex is IOException or UnauthorizedAccessException or KvmException or InvalidOperationException
            or SnapshotFormatException or GuestMemoryException or ArgumentException or NotSupportedException;

    public static VmSnapshotResult Write(string directory, VmMachine machine, IReadOnlyList<IVcpu> vcpus, IReadOnlyList<DeviceEndpoint> endpoints)
    {
        ArgumentNullException.ThrowIfNull(machine);
        var clock = Stopwatch.StartNew();
        var existed = Directory.Exists(directory);
        SnapshotDirectory.Create(directory);
        var statePath = Path.Combine(directory, SnapshotDirectory.StateFileName);
        var memoryPath = Path.Combine(directory, SnapshotDirectory.MemoryFileName);
        var held = new List<DeviceEndpoint>();
        var waitingRequests = 0;
        try
        {
            var devices = ImmutableArray.CreateBuilder<DeviceSnapshot>(endpoints.Count);
            foreach (var endpoint in endpoints)
            {
                held.Add(endpoint);
                devices.Add(new DeviceSnapshot(endpoint.Name, endpoint.HoldForSnapshot(out var waiting)));
                waitingRequests += waiting;
            }

            var msrs = machine.MsrIndices.ToArray();
            var vcpuBlobs = ImmutableArray.CreateBuilder<byte[]>(vcpus.Count);
            foreach (var vcpu in vcpus)
            {
                if (vcpu is not ActorVmm.Kvm.Vcpu kvmVcpu)
                {
                    throw new NotSupportedException($"vcpu{vcpu.Id} is not a KVM vCPU: it cannot be snapshotted");
                }

                var cpuid = vcpu.Id < machine.Cpuid.Count ? machine.Cpuid[vcpu.Id] : [];
                vcpuBlobs.Add(VcpuBlob.Encode(kvmVcpu.SaveState(msrs), cpuid));
            }

            var vmBlob = VcpuBlob.EncodeVm(machine.Vm.SaveState());
            var written = machine.Memory.WriteSparseImage(memoryPath);
            var state = new VmSnapshotState(
                SnapshotFile.CurrentVersion,
                machine.Settings,
                vcpuBlobs.MoveToImmutable(),
                vmBlob,
                devices.MoveToImmutable(),
                [.. machine.Memory.Regions.Select(r => new MemoryRegionInfo(r.Start.Value, r.Size))],
                [.. machine.Disks.Select(DescribeDisk)],
                DateTimeOffset.UtcNow);
            SnapshotFile.Write(statePath, state);
            return new VmSnapshotResult(
                directory, new FileInfo(statePath).Length, (long)written.TotalSize, (long)written.BytesWritten, clock.Elapsed)
            {
                WaitingRequests = waitingRequests,
            };
        }
        catch
        {
            TryDelete(statePath);
            TryDelete(memoryPath);
            if (!existed)
            {
                try
                {
                    Directory.Delete(directory);
                }
                catch (IOException)
                {
                }
            }

            throw;
        }
        finally
        {
            foreach (var endpoint in held)
            {
                endpoint.ReleaseAfterSnapshot();
            }
        }
    }

    private static DiskReference DescribeDisk(VmDisk disk)
    {
        var file = new FileInfo(disk.Path);
        if (!file.Exists)
        {
            throw new IOException($"{disk.Device}: its disk {disk.Path} is gone");
        }

        return new DiskReference(disk.Device, file.FullName, file.Length, file.LastWriteTimeUtc, disk.ReadOnly);
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
