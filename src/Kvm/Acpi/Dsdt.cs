using System.Globalization;

namespace ActorVmm.Kvm.Acpi;

/// <summary>
/// The Differentiated System Description Table (signature DSDT, revision 2: 64-bit integers): <c>\_S5</c> for
/// power-off, and under <c>\_SB</c> the PCI host bridge PCI0 (bus 0, its windows, the _PRT), the COM ports, the PS/2
/// keyboard controller, pvpanic and the virtio-mmio devices.
/// </summary>
public static class Dsdt
{
    public const byte Revision = 2;

    /// <summary>_ADR of a PCI function: device in the high word, 0xFFFF (any function) in the low one for _PRT.</summary>
    private const uint AnyFunction = 0xFFFF;

    /// <summary>The DSDT's AML (without the header): the body <see cref="Build"/> wraps.</summary>
    public static byte[] Body(AcpiPlatform platform)
    {
        ArgumentNullException.ThrowIfNull(platform);
        var devices = new List<byte[]> { HostBridge(platform) };
        for (var i = 0; i < platform.SerialPorts.Count; i++)
        {
            var com = platform.SerialPorts[i];
            devices.Add(Aml.Device(
                $"COM{i + 1}",
                Aml.Name("_HID", Aml.EisaId("PNP0501")),
                Aml.Name("_UID", Aml.Integer((ulong)i + 1)),
                Aml.Name("_CRS", AmlResource.Template(AmlResource.Io(com.Port, 8), AmlResource.IrqNoFlags(com.Irq)))));
        }

        devices.Add(Aml.Device(
            "KBD",
            Aml.Name("_HID", Aml.EisaId("PNP0303")),
            Aml.Name("_CRS", AmlResource.Template(
                AmlResource.Io(Layout.I8042Port, 1),
                AmlResource.Io((ushort)(Layout.I8042Port + 4), 1),
                AmlResource.IrqNoFlags(Layout.KeyboardIrq)))));

        if (platform.PvPanic)
        {
            devices.Add(Aml.Device(
                "PEVT",
                Aml.Name("_HID", Aml.String("QEMU0001")),
                Aml.Name("_CRS", AmlResource.Template(AmlResource.Io(Layout.PvPanicPort, 1)))));
        }

        for (var i = 0; i < platform.VirtioMmio.Count; i++)
        {
            var dev = platform.VirtioMmio[i];
            devices.Add(Aml.Device(
                "VR" + i.ToString("X2", CultureInfo.InvariantCulture),
                Aml.Name("_HID", Aml.String("LNRO0005")),
                Aml.Name("_UID", Aml.Integer((ulong)i)),
                Aml.Name("_CRS", AmlResource.Template(
                    AmlResource.Memory32Fixed((uint)dev.Base, (uint)dev.Size),
                    AmlResource.ExtendedInterrupt(dev.Gsi, dev.LevelTriggered)))));
        }

        var sleepType = (ulong)Layout.AcpiS5SleepType;
        return Aml.Concat(
            Aml.Name("\\_S5", Aml.Package(
                Aml.Integer(sleepType), Aml.Integer(sleepType), Aml.Integer(0), Aml.Integer(0))),
            Aml.Scope("\\_SB", [.. devices]));
    }

    /// <summary>The DSDT: header and <see cref="Body"/>.</summary>
    public static byte[] Build(AcpiPlatform platform)
    {
        var body = Body(platform);
        var t = AcpiSdt.Create("DSDT", AcpiSdt.HeaderSize + body.Length, Revision);
        body.CopyTo(t, AcpiSdt.HeaderSize);
        return AcpiSdt.Seal(t);
    }

    private static byte[] HostBridge(AcpiPlatform platform)
    {
        var windows = new List<byte[]>
        {
            AmlResource.WordBusNumber(0x00, 0xFF),
            AmlResource.Io(Layout.PciConfigPort, 8),
            AmlResource.WordIo(0x0000, (ushort)(Layout.PciConfigPort - 1)),
            AmlResource.WordIo(0x0D00, 0xFFFF),
            AmlResource.DWordMemory(platform.PciMmio32Start, platform.PciMmio32Size),
        };
        if (platform.PciMmio64Size > 0)
        {
            windows.Add(AmlResource.QWordMemory(platform.PciMmio64Start, platform.PciMmio64Size));
        }

        var routes = platform.PciRoutes
            .Select(r => Aml.Package(
                Aml.Integer(((ulong)r.Slot << 16) | AnyFunction),
                Aml.Integer((ulong)r.Pin),
                Aml.Integer(0), // no link device: the source index is the GSI
                Aml.Integer(r.Gsi)))
            .ToArray();

        return Aml.Device(
            "PCI0",
            Aml.Name("_HID", Aml.EisaId("PNP0A03")),
            Aml.Name("_ADR", Aml.Integer(0)),
            Aml.Name("_UID", Aml.Integer(0)),
            Aml.Name("_SEG", Aml.Integer(0)),
            Aml.Name("_BBN", Aml.Integer(0)),
            Aml.Name("_CRS", AmlResource.Template([.. windows])),
            Aml.Name("_PRT", Aml.Package(routes)));
    }
}
