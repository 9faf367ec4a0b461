namespace ActorVmm.Devices.Virtio;

/// <summary>
/// An immutable snapshot of a virtio transport: negotiation, queues, ISR (virtio-mmio: InterruptStatus) and device
/// state, and for a virtio-pci function its config space and MSI-X (the vector table and pending bits, and which
/// vector the configuration and each queue signal; null/empty when MSI-X is not offered). A virtio-mmio device's
/// state has an empty <c>PciConfiguration</c>, no MSI-X and no vectors, so neither transport takes the other's.
/// </summary>
public sealed record VirtioPciState(
    byte[] PciConfiguration,
    uint DeviceFeatureSelect,
    uint DriverFeatureSelect,
    ulong DriverFeatures,
    byte Status,
    byte Isr,
    byte ConfigGeneration,
    ushort QueueSelect,
    bool Activated,
    IReadOnlyList<VirtqueueState> Queues,
    object? DeviceState,
    Devices.Pci.MsixState? Msix = null,
    ushort ConfigVector = VirtioPciLayout.NoVector,
    IReadOnlyList<ushort>? QueueVectors = null);
