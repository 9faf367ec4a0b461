using System.Buffers.Binary;
using ActorVmm.Devices.Pci;

namespace ActorVmm.Devices.Virtio;

/// <summary>
/// The PCI face of a modern virtio function: 0x1AF4:0x1040+type, one 64-bit memory BAR 0 of
/// <see cref="VirtioPciLayout.BarSize"/> bytes, INTA#, and the vendor capabilities that tell the driver where the
/// common config, notify, ISR and device config structures lie in that BAR. The PCI config access capability
/// (type 5) is not offered.
/// </summary>
internal static class VirtioPciFunction
{
    public static PciConfiguration Create(IVirtioDevice device, ulong barAddress, byte irq)
    {
        var configuration = new PciConfiguration(
            VirtioPciLayout.VendorId,
            (ushort)(VirtioPciLayout.DeviceIdBase + device.DeviceType),
            VirtioPciLayout.ClassCodeFor(device.DeviceType),
            revision: 1,
            subsystemVendorId: VirtioPciLayout.VendorId,
            subsystemId: VirtioPciLayout.SubsystemId);
        configuration.AddBar(new PciBar(0, VirtioPciLayout.BarSize, PciBarKind.Memory64, barAddress));
        configuration.InterruptPin = 1;
        configuration.InterruptLine = irq;
        AddCapability(configuration, VirtioPciLayout.CommonCfg, VirtioPciLayout.CommonOffset, VirtioPciLayout.CommonLength);
        AddCapability(configuration, VirtioPciLayout.NotifyCfg, VirtioPciLayout.NotifyOffset,
            (ulong)device.QueueCount * VirtioPciLayout.NotifyOffMultiplier, VirtioPciLayout.NotifyOffMultiplier);
        AddCapability(configuration, VirtioPciLayout.IsrCfg, VirtioPciLayout.IsrOffset, VirtioPciLayout.IsrLength);
        if (device.ConfigSize > 0)
        {
            AddCapability(configuration, VirtioPciLayout.DeviceCfg, VirtioPciLayout.DeviceConfigOffset, (ulong)device.ConfigSize);
        }

        return configuration;
    }

    /// <summary>A virtio_pci_cap (16 bytes) or, with a multiplier, a virtio_pci_notify_cap (20 bytes) in BAR 0.</summary>
    private static void AddCapability(PciConfiguration configuration, byte type, ulong offset, ulong length, uint? notifyMultiplier = null)
    {
        Span<byte> cap = stackalloc byte[notifyMultiplier is null ? 16 : 20];
        cap.Clear();
        cap[0] = VirtioPciLayout.CapabilityId;
        cap[2] = (byte)cap.Length;
        cap[3] = type;
        cap[4] = 0;
        BinaryPrimitives.WriteUInt32LittleEndian(cap[8..], (uint)offset);
        BinaryPrimitives.WriteUInt32LittleEndian(cap[12..], (uint)length);
        if (notifyMultiplier is { } m)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(cap[16..], m);
        }

        configuration.AddCapability(cap);
    }
}
