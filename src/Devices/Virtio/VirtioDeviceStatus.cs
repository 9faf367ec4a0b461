namespace ActorVmm.Devices.Virtio;

/// <summary>The device_status bits (virtio 1.x, section 2.1).</summary>
[Flags]
public enum VirtioDeviceStatus : byte
{
    None = 0,
    Acknowledge = 1,
    Driver = 2,
    DriverOk = 4,
    FeaturesOk = 8,
    DeviceNeedsReset = 64,
    Failed = 128,
}
