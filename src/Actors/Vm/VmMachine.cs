using ActorVmm.Kvm;
using ActorVmm.Kvm.Interop;
using ActorVmm.Kvm.Memory;

namespace ActorVmm.Actors.Vm;

/// <summary>
/// What a snapshot needs beyond the actors: the KVM VM (irqchip, PIT, clock), guest RAM, the settings the machine
/// was built from (HOCON, replayed on restore), the MSRs KVM reports, each vCPU's CPUID table (compared on restore)
/// and the disks (referenced by path, not copied). Owned by the blueprint's resources.
/// </summary>
public sealed record VmMachine(
    KvmVm Vm,
    GuestMemory Memory,
    string Settings,
    IReadOnlyList<uint> MsrIndices,
    IReadOnlyList<KvmCpuidEntry2[]> Cpuid,
    IReadOnlyList<VmDisk> Disks);

/// <summary>A disk of the VM: the device it backs, its file, and whether the guest may write it.</summary>
public sealed record VmDisk(string Device, string Path, bool ReadOnly);
