namespace ActorVmm.Devices.Virtio;

/// <summary>
/// An immutable snapshot of a virtio-pci function: config space, negotiation, queues, ISR, device state, and MSI-X
/// (the vector table and pending bits, and which vector the configuration and each queue signal; null/empty when
/// MSI-X is not offered).
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
