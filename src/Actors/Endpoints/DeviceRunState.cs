namespace ActorVmm.Actors.Endpoints;

/// <summary>Where a device stands (<see cref="DeviceEndpoint.State"/>).</summary>
public enum DeviceRunState
{
    /// <summary>An instance is installed and serves accesses.</summary>
    Running,

    /// <summary>It failed; its supervisor has not yet installed the next instance (or decided otherwise).</summary>
    Restarting,

    /// <summary>Its actor stopped for good (or has not started): reads answer all-ones, writes are dropped.</summary>
    Stopped,

    /// <summary>Given up on but still answering register accesses (virtio: DEVICE_NEEDS_RESET).</summary>
    FailStopped,
}
