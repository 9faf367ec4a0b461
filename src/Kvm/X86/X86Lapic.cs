using ActorVmm.Kvm.Interop;

namespace ActorVmm.Kvm.X86;

/// <summary>Local APIC register offsets and the boot-time LINT wiring (virtual-wire mode, as on a PC).</summary>
public static class X86Lapic
{
    public const int RegisterSpuriousVector = 0xF0;
    public const int RegisterLvtLint0 = 0x350;
    public const int RegisterLvtLint1 = 0x360;

    public const uint DeliveryModeNmi = 0b100;
    public const uint DeliveryModeExtInt = 0b111;

    private const uint DeliveryModeMask = 0x700;

    /// <summary>An LVT value with its delivery mode (bits 10:8) replaced.</summary>
    public static uint WithDeliveryMode(uint lvt, uint mode) => (lvt & ~DeliveryModeMask) | ((mode << 8) & DeliveryModeMask);

    /// <summary>LINT0 delivers the PIC's interrupts (ExtINT), LINT1 delivers NMI; other bits are kept.</summary>
    public static void ConfigureLint(ref KvmLapicState lapic)
    {
        lapic.SetRegister(RegisterLvtLint0, WithDeliveryMode(lapic.GetRegister(RegisterLvtLint0), DeliveryModeExtInt));
        lapic.SetRegister(RegisterLvtLint1, WithDeliveryMode(lapic.GetRegister(RegisterLvtLint1), DeliveryModeNmi));
    }
}
