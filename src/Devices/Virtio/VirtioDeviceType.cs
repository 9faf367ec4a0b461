namespace ActorVmm.Devices.Virtio;

/// <summary>Virtio device ids (virtio 1.x, section 5); the PCI device id is 0x1040 + this.</summary>
public static class VirtioDeviceType
{
    public const ushort Net = 1;
    public const ushort Block = 2;
    public const ushort Console = 3;
    public const ushort Rng = 4;
}
