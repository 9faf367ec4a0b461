namespace ActorVmm.Devices.Virtio;

/// <summary>
/// The register offsets of a virtio-mmio device, version 2 (virtio 1.x, section 4.2.2). Every register is 32 bits
/// wide and read or written 32 bits at a time; the device configuration starts at <see cref="Config"/>.
/// </summary>
public static class VirtioMmioLayout
{
    /// <summary>"virt" in little-endian ASCII.</summary>
    public const uint Magic = 0x7472_6976;

    /// <summary>The modern (virtio 1.x) register layout; 1 was the legacy one.</summary>
    public const uint Version = 2;

    /// <summary>VendorID: the virtio PCI vendor id, as QEMU's virtio-pci uses (Linux does not look at it).</summary>
    public const uint VendorId = 0x1AF4;

    public const ulong MagicValue = 0x000;
    public const ulong VersionRegister = 0x004;
    public const ulong DeviceId = 0x008;
    public const ulong VendorIdRegister = 0x00C;
    public const ulong DeviceFeatures = 0x010;
    public const ulong DeviceFeaturesSel = 0x014;
    public const ulong DriverFeatures = 0x020;
    public const ulong DriverFeaturesSel = 0x024;
    public const ulong QueueSel = 0x030;
    public const ulong QueueNumMax = 0x034;
    public const ulong QueueNum = 0x038;
    public const ulong QueueReady = 0x044;
    public const ulong QueueNotify = 0x050;
    public const ulong InterruptStatus = 0x060;
    public const ulong InterruptAck = 0x064;
    public const ulong Status = 0x070;
    public const ulong QueueDescLow = 0x080;
    public const ulong QueueDescHigh = 0x084;
    public const ulong QueueDriverLow = 0x090;
    public const ulong QueueDriverHigh = 0x094;
    public const ulong QueueDeviceLow = 0x0A0;
    public const ulong QueueDeviceHigh = 0x0A4;
    public const ulong ConfigGeneration = 0x0FC;

    /// <summary>Start of the device-specific configuration.</summary>
    public const ulong Config = 0x100;

    /// <summary>The window one device decodes (a page, as Linux's ACPI/DT binding and QEMU's virt machines give it).</summary>
    public const ulong WindowSize = 0x1000;

    /// <summary>The most device configuration bytes a window has room for.</summary>
    public const ulong ConfigMaxLength = WindowSize - Config;

    /// <summary>InterruptStatus bit 0: a queue has used buffers.</summary>
    public const uint InterruptUsedBuffer = 1;

    /// <summary>InterruptStatus bit 1: the device configuration changed (or DEVICE_NEEDS_RESET was set).</summary>
    public const uint InterruptConfigChange = 2;
}
