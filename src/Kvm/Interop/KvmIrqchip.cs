using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ActorVmm.Kvm.Interop;

/// <summary>
/// struct kvm_irqchip: one chip of the in-kernel irqchip (KVM_GET_IRQCHIP / KVM_SET_IRQCHIP). <see cref="Chip"/> is the
/// kernel's 512-byte union (kvm_pic_state or kvm_ioapic_state), kept as raw bytes: it is only saved and given back. 520 bytes.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmIrqchip
{
    /// <summary>KVM_IRQCHIP_PIC_MASTER.</summary>
    public const uint PicMaster = 0;

    /// <summary>KVM_IRQCHIP_PIC_SLAVE.</summary>
    public const uint PicSlave = 1;

    /// <summary>KVM_IRQCHIP_IOAPIC.</summary>
    public const uint Ioapic = 2;

    public const int ChipSize = 512;

    public uint ChipId;
    public uint Pad;
    public KvmIrqchipData Chip;
}

/// <summary>kvm_irqchip.chip: the union's 512 bytes.</summary>
[InlineArray(KvmIrqchip.ChipSize)]
public struct KvmIrqchipData
{
    private byte _element0;
}
