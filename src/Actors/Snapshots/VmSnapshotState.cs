using System.Collections.Immutable;

namespace ActorVmm.Actors.Snapshots;

/// <summary>
/// Everything a snapshot's <c>state.bin</c> holds (guest RAM is beside it in <c>memory.bin</c>). The vCPU and VM-wide
/// KVM sections are opaque here: the runtime encodes them (the KVM layer's codecs) and decodes what it gets back.
/// </summary>
/// <param name="FormatVersion">The format the file was written in (<see cref="SnapshotFile.Read"/>); <see cref="SnapshotFile.Write"/> always writes <see cref="SnapshotFile.CurrentVersion"/>.</param>
/// <param name="Settings">The VM's settings as the runtime serialised them, to rebuild the same machine.</param>
/// <param name="Vcpus">One encoded vCPU state per vCPU, in vCPU index order.</param>
/// <param name="VmKvm">The encoded VM-wide KVM state (interrupt controllers, clocks).</param>
/// <param name="Devices">Each device's saved state by name (<see cref="DeviceStateCodec"/> types).</param>
/// <param name="Memory">The guest RAM regions <c>memory.bin</c> holds, in file order.</param>
/// <param name="Disks">The disk images the VM used, to check they are unchanged on restore.</param>
/// <param name="TakenAt">When the snapshot was taken.</param>
public sealed record VmSnapshotState(
    int FormatVersion,
    string Settings,
    ImmutableArray<byte[]> Vcpus,
    byte[] VmKvm,
    ImmutableArray<DeviceSnapshot> Devices,
    ImmutableArray<MemoryRegionInfo> Memory,
    ImmutableArray<DiskReference> Disks,
    DateTimeOffset TakenAt);
