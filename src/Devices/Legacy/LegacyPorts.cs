namespace ActorVmm.Devices.Legacy;

/// <summary>
/// Where the legacy PC devices of this folder are expected to be mapped on the PIO bus, and the ISA IRQs they use.
/// Each device's offsets are relative to the base given here.
/// </summary>
public static class LegacyPorts
{
    /// <summary>COM1: <see cref="Serial16550"/>, 8 ports (0x3f8..0x3ff), ISA IRQ 4.</summary>
    public const ushort Com1 = 0x3f8;

    /// <summary>COM2: <see cref="Serial16550"/>, 8 ports (0x2f8..0x2ff), ISA IRQ 3.</summary>
    public const ushort Com2 = 0x2f8;

    /// <summary>COM3 (0x3e8, shares ISA IRQ 4 with COM1 on a PC).</summary>
    public const ushort Com3 = 0x3e8;

    /// <summary>COM4 (0x2e8, shares ISA IRQ 3 with COM2 on a PC).</summary>
    public const ushort Com4 = 0x2e8;

    public const int Com1Irq = 4;

    public const int Com2Irq = 3;

    /// <summary><see cref="I8042"/>: one window 0x60..0x64 (size <see cref="I8042.RangeSize"/>); 0x61 inside it is port B.</summary>
    public const ushort I8042 = 0x60;

    /// <summary>ISA IRQ of the keyboard (only used for replies to keyboard commands).</summary>
    public const int KeyboardIrq = 1;

    /// <summary><see cref="Cmos"/>: index 0x70, data 0x71 (size <see cref="Cmos.RangeSize"/>).</summary>
    public const ushort Cmos = 0x70;

    /// <summary>POST code / I/O delay port (<see cref="PortSink"/>).</summary>
    public const ushort PostCode = 0x80;

    /// <summary>DMA page register 0x87 that some kernels poke (<see cref="PortSink"/>).</summary>
    public const ushort DmaPage87 = 0x87;

    /// <summary>Alternative I/O delay port (<see cref="PortSink"/>).</summary>
    public const ushort IoDelayAlt = 0xed;

    /// <summary>System control port A / fast A20 gate (<see cref="FastA20Gate"/>).</summary>
    public const ushort FastA20 = 0x92;

    /// <summary>System control port B, when it is not covered by the <see cref="I8042"/> window.</summary>
    public const ushort SystemControlB = 0x61;
}
