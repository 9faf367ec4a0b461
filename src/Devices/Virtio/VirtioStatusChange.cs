namespace ActorVmm.Devices.Virtio;

/// <summary>What a device status write asks of the transport (<see cref="VirtioTransport"/>).</summary>
internal enum VirtioStatusChange
{
    /// <summary>Nothing beyond the register.</summary>
    None,

    /// <summary>The driver wrote 0: reset the device and its queues.</summary>
    Reset,

    /// <summary>The driver set DRIVER_OK: activate the device model.</summary>
    DriverOk,
}
