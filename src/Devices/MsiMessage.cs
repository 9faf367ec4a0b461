using ActorVmm.Kvm;

namespace ActorVmm.Devices;

/// <summary>An MSI message as a guest programs it into an MSI-X table entry: where the write goes, and what it writes.</summary>
public readonly record struct MsiMessage(ulong Address, uint Data)
{
    /// <summary>
    /// True when the message targets the x86 MSI window (<see cref="Layout.MsiWindowStart"/>). Anything else would be a
    /// DMA write to memory on real hardware; a VMM does not deliver it as an interrupt.
    /// </summary>
    public bool IsX86Interrupt => (Address & ~(Layout.MsiWindowSize - 1)) == Layout.MsiWindowStart;

    public override string ToString() => $"MSI 0x{Address:x}/0x{Data:x}";
}
