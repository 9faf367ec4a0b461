namespace ActorVmm.Devices.Pci;

/// <summary>
/// How a device's INTx pin reaches the interrupt controller, for the MP table / ACPI writer:
/// device <paramref name="DeviceNumber"/> on bus 0, <paramref name="Pin"/> 1 = INTA# .. 4 = INTD#, wired to IRQ
/// <paramref name="Irq"/> (an IOAPIC input, level-triggered, active-low as PCI interrupts are).
/// </summary>
public sealed record PciInterruptRoute(int DeviceNumber, byte Pin, byte Irq);
