using System.Diagnostics;
using ActorVmm.Kvm.Acpi;
using Xunit;

namespace ActorVmm.Kvm.Tests.Acpi;

/// <summary>
/// The tables go through ACPICA's own disassembler (<c>iasl -d</c>, Debian acpica-tools): it must accept each one and
/// find in the DSDT the devices, ids, resources and PCI routes the platform describes.
/// </summary>
public sealed class IaslRoundTripTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("actorvmm-acpi-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static AcpiPlatform Platform() => new([0, 1, 4, 5])
    {
        SerialPorts = [new AcpiSerialPort(Layout.Com1Port, Layout.Com1Irq), new AcpiSerialPort(Layout.Com2Port, Layout.Com2Irq)],
        PciRoutes = [new AcpiPciRoute(1, 0, 16), new AcpiPciRoute(2, 0, 17), new AcpiPciRoute(31, 3, 23)],
        VirtioMmio =
        [
            new AcpiMmioDevice(Layout.VirtioMmioStart, Layout.VirtioMmioSize, 5, LevelTriggered: false),
            new AcpiMmioDevice(Layout.VirtioMmioStart + Layout.VirtioMmioSize, Layout.VirtioMmioSize, 6, LevelTriggered: true),
        ],
        PciMmio64Start = 0x80_0000_0000,
        PciMmio64Size = 0x10_0000_0000,
    };

    private string Disassemble(string signature, AcpiPlatform? platform = null)
    {
        var table = AcpiTables.Build(platform ?? Platform())[signature];
        var path = Path.Combine(_dir, signature.ToLowerInvariant() + ".dat");
        File.WriteAllBytes(path, table.Bytes);
        var psi = new ProcessStartInfo("iasl", ["-d", path])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = _dir,
        };
        Process process;
        try
        {
            process = Process.Start(psi)!;
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            Assert.Fail($"iasl is not installed ({ex.Message}): apt-get install acpica-tools (tools/setup.sh installs it)");
            throw;
        }

        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, $"iasl -d {signature} exited {process.ExitCode}:\n{stdout.Result}\n{stderr}");
            var dsl = File.ReadAllText(Path.ChangeExtension(path, ".dsl"));
            Assert.DoesNotContain("Error", stdout.Result + stderr);
            return dsl;
        }
    }

    [Fact]
    public void Dsdt_should_disassemble_with_every_device_and_resource()
    {
        var dsl = Flat(Disassemble("DSDT"));

        Assert.Contains("Name (\\_S5, Package (0x04) // _S5_: S5 System State { 0x05, 0x05, Zero, Zero })", dsl);
        Assert.Contains("Device (PCI0) { Name (_HID, EisaId (\"PNP0A03\")", dsl);
        Assert.Contains("Name (_SEG, Zero)", dsl);
        Assert.Contains("Name (_BBN, Zero)", dsl);
        Assert.Contains("WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, 0x0000, // Granularity 0x0000, // Range Minimum 0x00FF, // Range Maximum", dsl);
        Assert.Contains("IO (Decode16, 0x0CF8, // Range Minimum 0x0CF8, // Range Maximum 0x01, // Alignment 0x08, // Length", dsl);
        Assert.Contains("WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0x0000, // Granularity 0x0000, // Range Minimum 0x0CF7, // Range Maximum", dsl);
        Assert.Contains("0x0D00, // Range Minimum 0xFFFF, // Range Maximum", dsl);
        Assert.Contains("DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite, 0x00000000, // Granularity 0xC0000000, // Range Minimum 0xEFFFFFFF, // Range Maximum", dsl);
        Assert.Contains("QWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite, 0x0000000000000000, // Granularity 0x0000008000000000, // Range Minimum 0x0000008FFFFFFFFF, // Range Maximum", dsl);
        Assert.Contains("Name (_PRT, Package (0x03) // _PRT: PCI Routing Table { Package (0x04) { 0x0001FFFF, Zero, Zero, 0x10 }, Package (0x04) { 0x0002FFFF, Zero, Zero, 0x11 }, Package (0x04) { 0x001FFFFF, 0x03, Zero, 0x17 } })", dsl);
        Assert.Contains("Device (COM1) { Name (_HID, EisaId (\"PNP0501\")", dsl);
        Assert.Contains("0x03F8, // Range Minimum 0x03F8, // Range Maximum 0x01, // Alignment 0x08, // Length ) IRQNoFlags () {4}", dsl);
        Assert.Contains("Device (COM2) { Name (_HID, EisaId (\"PNP0501\")", dsl);
        Assert.Contains("0x02F8, // Range Minimum 0x02F8, // Range Maximum 0x01, // Alignment 0x08, // Length ) IRQNoFlags () {3}", dsl);
        Assert.Contains("Device (KBD) { Name (_HID, EisaId (\"PNP0303\")", dsl);
        Assert.Contains("0x0064, // Range Minimum 0x0064, // Range Maximum 0x01, // Alignment 0x01, // Length ) IRQNoFlags () {1}", dsl);
        Assert.Contains("Device (PEVT) { Name (_HID, \"QEMU0001\")", dsl);
        Assert.Contains("0x0505, // Range Minimum 0x0505, // Range Maximum 0x01, // Alignment 0x01, // Length", dsl);
        Assert.Contains("Device (VR00) { Name (_HID, \"LNRO0005\") // _HID: Hardware ID Name (_UID, Zero)", dsl);
        Assert.Contains("Memory32Fixed (ReadWrite, 0xF0000000, // Address Base 0x00001000, // Address Length ) Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, ) { 0x00000005, }", dsl);
        Assert.Contains("Device (VR01) { Name (_HID, \"LNRO0005\") // _HID: Hardware ID Name (_UID, One)", dsl);
        Assert.Contains("Interrupt (ResourceConsumer, Level, ActiveHigh, Exclusive, ,, ) { 0x00000006, }", dsl);
    }

    [Fact]
    public void Dsdt_without_pvpanic_or_a_64_bit_window_should_disassemble_without_them()
    {
        var dsl = Flat(Disassemble("DSDT", new AcpiPlatform([0]) { PvPanic = false }));

        Assert.Contains("Device (PCI0)", dsl);
        Assert.Contains("Name (_PRT, Package (0x00)", dsl);
        Assert.DoesNotContain("QEMU0001", dsl);
        Assert.DoesNotContain("QWordMemory", dsl);
        Assert.DoesNotContain("PNP0501", dsl);
    }

    /// <summary>The disassembly with every run of whitespace made one space, so assertions do not depend on iasl's indentation.</summary>
    private static string Flat(string dsl) => string.Join(' ', dsl.Split((char[])[' ', '\t', '\r', '\n'], StringSplitOptions.RemoveEmptyEntries));

    [Theory]
    [InlineData("FACP")]
    [InlineData("APIC")]
    [InlineData("XSDT")]
    [InlineData("FACS")]
    public void Table_should_disassemble_cleanly(string signature)
    {
        var dsl = Disassemble(signature);

        Assert.Contains($"Signature : \"{signature}\"", dsl);
        Assert.DoesNotContain("Invalid", dsl);
    }
}
