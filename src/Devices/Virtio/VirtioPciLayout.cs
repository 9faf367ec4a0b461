namespace ActorVmm.Devices.Virtio;

/// <summary>
/// Where the virtio structures live inside BAR 0 of a <see cref="VirtioPciDevice"/>, and the capability types
/// pointing at them (virtio 1.x, section 4.1.4).
/// </summary>
public static class VirtioPciLayout
{
    /// <summary>Size of BAR 0 (a 64-bit, non-prefetchable memory BAR).</summary>
    public const ulong BarSize = 0x8000;

    public const ulong CommonOffset = 0x0000;
    public const ulong CommonLength = 0x38;
    public const ulong IsrOffset = 0x1000;
    public const ulong IsrLength = 1;
    public const ulong DeviceConfigOffset = 0x2000;
    public const ulong DeviceConfigMaxLength = 0x1000;
    public const ulong NotifyOffset = 0x3000;

    /// <summary>The MSI-X vector table (when MSI-X is offered): a page of its own, room for <see cref="MaxMsixVectors"/>.</summary>
    public const ulong MsixTableOffset = 0x4000;

    /// <summary>The MSI-X pending bit array: a page of its own.</summary>
    public const ulong MsixPbaOffset = 0x5000;

    /// <summary>The most MSI-X vectors a function offers (one page of table).</summary>
    public const int MaxMsixVectors = 256;

    /// <summary>notify_off_multiplier: queue N is notified by a write at NotifyOffset + N * 4.</summary>
    public const uint NotifyOffMultiplier = 4;

    public const byte CapabilityId = 0x09;
    public const byte CommonCfg = 1;
    public const byte NotifyCfg = 2;
    public const byte IsrCfg = 3;
    public const byte DeviceCfg = 4;
    public const byte PciCfg = 5;

    /// <summary>VIRTIO_MSI_NO_VECTOR: msix_config / queue_msix_vector with no vector (also what a refused mapping reads back).</summary>
    public const ushort NoVector = 0xFFFF;

    public const ushort VendorId = 0x1AF4;
    public const ushort DeviceIdBase = 0x1040;
    public const ushort SubsystemId = 0x1100;

    /// <summary>ISR bit 0: a queue has used buffers.</summary>
    public const byte IsrQueue = 1;

    /// <summary>ISR bit 1: the device configuration changed.</summary>
    public const byte IsrConfig = 2;

    /// <summary>The PCI class code QEMU uses for each device type.</summary>
    public static uint ClassCodeFor(ushort deviceType) => deviceType switch
    {
        VirtioDeviceType.Net => 0x02_00_00,
        VirtioDeviceType.Block => 0x01_00_00,
        VirtioDeviceType.Console => 0x07_80_00,
        _ => 0xFF_00_00,
    };
}
