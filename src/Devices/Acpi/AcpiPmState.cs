namespace ActorVmm.Devices.Acpi;

/// <summary>
/// Guest-visible state of an <see cref="AcpiPmDevice"/>, from <see cref="AcpiPmDevice.SaveState"/>: PM1a_STS, PM1a_EN
/// and the stored part of PM1a_CNT (SLP_TYP). The PM timer is not stored: it follows the device's clock.
/// </summary>
public sealed record AcpiPmState(ushort Status, ushort Enable, ushort Control);
