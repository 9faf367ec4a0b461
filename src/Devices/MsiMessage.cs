namespace ActorVmm.Devices;

/// <summary>An MSI message as a guest programs it into an MSI-X table entry: where the write goes, and what it writes.</summary>
public readonly record struct MsiMessage(ulong Address, uint Data)
{
    /// <summary>The x86 interrupt address window (0xFEEx_xxxx): MSI writes the local APICs decode.</summary>
    public const ulong X86InterruptWindow = 0xFEE0_0000;

    /// <summary>
    /// True when the message targets the x86 interrupt window (address bits 63:20 = 0xFEE). Anything else would be a
    /// DMA write to memory on real hardware; a VMM does not deliver it as an interrupt.
    /// </summary>
    public bool IsX86Interrupt => (Address & ~0xF_FFFFUL) == X86InterruptWindow;

    public override string ToString() => $"MSI 0x{Address:x}/0x{Data:x}";
}
