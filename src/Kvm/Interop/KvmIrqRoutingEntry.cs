using System.Runtime.InteropServices;

namespace ActorVmm.Kvm.Interop;

/// <summary>
/// struct kvm_irq_routing_entry (48 bytes) with the irqchip and msi members of its union at offset 16.
/// The kvm_irq_routing header is 8 bytes (nr, flags).
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 48)]
public struct KvmIrqRoutingEntry
{
    public const uint TypeIrqchip = 1;
    public const uint TypeMsi = 2;

    public const uint IrqchipPicMaster = 0;
    public const uint IrqchipPicSlave = 1;
    public const uint IrqchipIoapic = 2;

    [FieldOffset(0)]
    public uint Gsi;

    [FieldOffset(4)]
    public uint Type;

    [FieldOffset(8)]
    public uint Flags;

    [FieldOffset(12)]
    public uint Pad;

    /// <summary>u.irqchip.irqchip (TypeIrqchip).</summary>
    [FieldOffset(16)]
    public uint Irqchip;

    /// <summary>u.irqchip.pin (TypeIrqchip).</summary>
    [FieldOffset(20)]
    public uint Pin;

    /// <summary>u.msi.address_lo (TypeMsi).</summary>
    [FieldOffset(16)]
    public uint MsiAddressLo;

    /// <summary>u.msi.address_hi (TypeMsi).</summary>
    [FieldOffset(20)]
    public uint MsiAddressHi;

    /// <summary>u.msi.data (TypeMsi).</summary>
    [FieldOffset(24)]
    public uint MsiData;

    /// <summary>u.msi.devid (TypeMsi, with KVM_MSI_VALID_DEVID).</summary>
    [FieldOffset(28)]
    public uint MsiDevId;

    public static KvmIrqRoutingEntry ForIrqchip(uint gsi, uint irqchip, uint pin) =>
        new() { Gsi = gsi, Type = TypeIrqchip, Irqchip = irqchip, Pin = pin };

    public static KvmIrqRoutingEntry ForMsi(uint gsi, ulong address, uint data) =>
        new() { Gsi = gsi, Type = TypeMsi, MsiAddressLo = (uint)address, MsiAddressHi = (uint)(address >> 32), MsiData = data };
}
