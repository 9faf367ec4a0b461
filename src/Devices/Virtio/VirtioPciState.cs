namespace ActorVmm.Devices.Virtio;

/// <summary>An immutable snapshot of a virtio-pci function: config space, negotiation, queues, ISR, device state.</summary>
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
    object? DeviceState);
