namespace ActorVmm.Devices;

/// <summary>
/// A device that can fail in a guest-visible way instead of vanishing: used when its supervisor gives up on it
/// (restart budget exceeded, policy stop-device).
/// </summary>
public interface IFailStopDevice
{
    /// <summary>
    /// Enters a failed state the guest can see (virtio: DEVICE_NEEDS_RESET and a configuration interrupt) and stops
    /// serving requests. The device keeps answering register accesses, so the guest can read why and the interrupt
    /// can be acknowledged. Idempotent.
    /// </summary>
    void FailStop();
}
