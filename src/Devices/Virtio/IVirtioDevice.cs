using ActorVmm.Kvm.Memory;

namespace ActorVmm.Devices.Virtio;

/// <summary>
/// A virtio device model behind a transport (<see cref="VirtioPciDevice"/> or <see cref="VirtioMmioDevice"/>). The
/// transport negotiates features, owns the queues and the interrupt; the model only serves requests. Called only with
/// the transport's lock held, so a model needs no locking of its own except for what other threads hand it (e.g.
/// console input).
/// </summary>
public interface IVirtioDevice
{
    /// <summary>The virtio device id (<see cref="VirtioDeviceType"/>).</summary>
    ushort DeviceType { get; }

    /// <summary>Everything the device offers, including the transport bits (<see cref="VirtioFeatures.TransportDefault"/>).</summary>
    ulong AvailableFeatures { get; }

    int QueueCount { get; }

    ushort MaxQueueSize { get; }

    /// <summary>Bytes of device-specific configuration (at most 4096).</summary>
    int ConfigSize { get; }

    /// <summary>Reads device configuration; offset + length are within <see cref="ConfigSize"/>.</summary>
    void ReadConfig(ulong offset, Span<byte> data);

    /// <summary>Writes device configuration; offset + length are within <see cref="ConfigSize"/>.</summary>
    void WriteConfig(ulong offset, ReadOnlySpan<byte> data);

    /// <summary>The driver set DRIVER_OK: the negotiated features and a context to signal through.</summary>
    void Activate(VirtioContext context);

    /// <summary>
    /// Serves what the driver made available on queue <paramref name="index"/> (pop with
    /// <see cref="Virtqueue.TryPop"/>, complete with <see cref="Virtqueue.AddUsed"/>), doing a bounded amount of
    /// work. Returns true when it added used entries; the transport then decides whether to interrupt.
    /// </summary>
    bool ProcessQueue(int index, Virtqueue queue, GuestMemory memory);

    /// <summary>
    /// Completes a request whose serving threw twice as failed, the way this device reports a host error (virtio-blk:
    /// status IOERR). Returns the used length. Default: nothing written.
    /// </summary>
    uint FailRequest(DescriptorChain chain, GuestMemory memory) => 0;

    /// <summary>Back to the pre-activation state (the driver wrote 0 to device_status).</summary>
    void Reset();

    /// <summary>Device-specific state to keep across a supervised restart (immutable), or null.</summary>
    object? SaveDeviceState();

    void RestoreDeviceState(object? state);
}
