using System.Buffers.Binary;

namespace ActorVmm.Kvm.Acpi;

/// <summary>
/// The Fixed ACPI Description Table (signature FACP, ACPI 6.x layout, 276 bytes) of a legacy PC: PM1a event and
/// control blocks and the PM timer at the <see cref="Layout"/> ports, the SCI on <see cref="Layout.SciIrq"/>, no
/// SMI command port (the machine is always in ACPI mode: the PM device reports SCI_EN set), no GPE blocks.
/// </summary>
public static class Fadt
{
    public const int Length = 276;
    public const byte Revision = 6;
    public const byte MinorRevision = 5;

    // Field offsets.
    public const int FirmwareCtrlOffset = 36;
    public const int DsdtOffset = 40;
    public const int SciIntOffset = 46;
    public const int SmiCmdOffset = 48;
    public const int Pm1aEventBlockOffset = 56;
    public const int Pm1aControlBlockOffset = 64;
    public const int PmTimerBlockOffset = 76;
    public const int Pm1EventLengthOffset = 88;
    public const int Pm1ControlLengthOffset = 89;
    public const int PmTimerLengthOffset = 91;
    public const int CenturyOffset = 108;
    public const int BootArchOffset = 109;
    public const int FlagsOffset = 112;
    public const int MinorRevisionOffset = 131;
    public const int XFirmwareCtrlOffset = 132;
    public const int XDsdtOffset = 140;
    public const int XPm1aEventBlockOffset = 148;
    public const int XPm1aControlBlockOffset = 172;
    public const int XPmTimerBlockOffset = 208;
    public const int HypervisorVendorOffset = 268;

    /// <summary>Flags: WBINVD works, C1 supported, no fixed sleep button, 32-bit PM timer (the power button is a fixed feature).</summary>
    public const uint FlagWbinvd = 1 << 0;
    public const uint FlagProcC1 = 1 << 2;
    public const uint FlagPowerButton = 1 << 4;
    public const uint FlagSleepButton = 1 << 5;
    public const uint FlagTimerValueExtended = 1 << 8;
    public const uint Flags = FlagWbinvd | FlagProcC1 | FlagSleepButton | FlagTimerValueExtended;

    /// <summary>IA-PC boot architecture flags: legacy (ISA) devices, an 8042, no VGA.</summary>
    public const ushort BootArchLegacyDevices = 1 << 0;
    public const ushort BootArch8042 = 1 << 1;
    public const ushort BootArchVgaNotPresent = 1 << 2;
    public const ushort BootArch = BootArchLegacyDevices | BootArch8042 | BootArchVgaNotPresent;

    /// <summary>CMOS index of the RTC's century byte.</summary>
    public const byte Century = 0x32;

    /// <summary>P_LVL2/3 latencies above 100 / 1000 µs: C2 and C3 not supported.</summary>
    private const ushort NoC2Latency = 0x0FFF;
    private const ushort NoC3Latency = 0x0FFF;

    /// <summary>The FADT pointing at the FACS and DSDT at the given addresses.</summary>
    public static byte[] Build(ulong facs, ulong dsdt)
    {
        var t = AcpiSdt.Create("FACP", Length, Revision);
        var s = t.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(s[FirmwareCtrlOffset..], checked((uint)facs));
        BinaryPrimitives.WriteUInt32LittleEndian(s[DsdtOffset..], checked((uint)dsdt));
        BinaryPrimitives.WriteUInt16LittleEndian(s[SciIntOffset..], (ushort)Layout.SciIrq);
        BinaryPrimitives.WriteUInt32LittleEndian(s[SmiCmdOffset..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(s[Pm1aEventBlockOffset..], Layout.AcpiPm1aEventPort);
        BinaryPrimitives.WriteUInt32LittleEndian(s[Pm1aControlBlockOffset..], Layout.AcpiPm1aControlPort);
        BinaryPrimitives.WriteUInt32LittleEndian(s[PmTimerBlockOffset..], Layout.AcpiPmTimerPort);
        s[Pm1EventLengthOffset] = 4;
        s[Pm1ControlLengthOffset] = 2;
        s[PmTimerLengthOffset] = 4;
        BinaryPrimitives.WriteUInt16LittleEndian(s[96..], NoC2Latency);
        BinaryPrimitives.WriteUInt16LittleEndian(s[98..], NoC3Latency);
        s[CenturyOffset] = Century;
        BinaryPrimitives.WriteUInt16LittleEndian(s[BootArchOffset..], BootArch);
        BinaryPrimitives.WriteUInt32LittleEndian(s[FlagsOffset..], Flags);
        s[MinorRevisionOffset] = MinorRevision;
        BinaryPrimitives.WriteUInt64LittleEndian(s[XFirmwareCtrlOffset..], 0); // FIRMWARE_CTRL holds it (below 4 GiB)
        BinaryPrimitives.WriteUInt64LittleEndian(s[XDsdtOffset..], dsdt);
        WriteIoGas(s[XPm1aEventBlockOffset..], Layout.AcpiPm1aEventPort, 4);
        WriteIoGas(s[XPm1aControlBlockOffset..], Layout.AcpiPm1aControlPort, 2);
        WriteIoGas(s[XPmTimerBlockOffset..], Layout.AcpiPmTimerPort, 4);
        "ACTORVMM"u8.CopyTo(s[HypervisorVendorOffset..]);
        return AcpiSdt.Seal(t);
    }

    /// <summary>A Generic Address Structure for <paramref name="bytes"/> bytes of system I/O space at <paramref name="port"/> (access size left to the OS, as QEMU does).</summary>
    private static void WriteIoGas(Span<byte> gas, ushort port, int bytes)
    {
        gas[0] = 1; // system I/O
        gas[1] = (byte)(bytes * 8);
        gas[2] = 0; // bit offset
        gas[3] = 0; // access size: undefined (legacy)
        BinaryPrimitives.WriteUInt64LittleEndian(gas[4..], port);
    }
}
