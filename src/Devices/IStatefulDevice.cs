namespace ActorVmm.Devices;

/// <summary>
/// A device whose state can be saved and brought back, so a supervised restart keeps what the guest configured.
/// The snapshot is an immutable value the device itself understands.
/// </summary>
public interface IStatefulDevice
{
    /// <summary>An immutable copy of the guest-visible state.</summary>
    object SaveState();

    /// <summary>Brings back state from <see cref="SaveState"/> (after a restart).</summary>
    void RestoreState(object state);

    /// <summary>Back to power-on state.</summary>
    void Reset();

    /// <summary>
    /// <see cref="RestoreState"/> threw on a fresh instance: bring back what lets the guest notice and recover (virtio:
    /// its registers with DEVICE_NEEDS_RESET and a configuration interrupt). Default: stay in power-on state.
    /// </summary>
    void RestoreFailed(object state)
    {
    }
}
