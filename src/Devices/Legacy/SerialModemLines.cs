namespace ActorVmm.Devices.Legacy;

/// <summary>The 16550's modem lines: what MSR reports for an MCR value, and the MSR delta bits a change sets.</summary>
internal static class SerialModemLines
{
    /// <summary>MSR bits 7..4: in loopback the MCR outputs drive the inputs (DTR→DSR, RTS→CTS, OUT1→RI, OUT2→DCD).</summary>
    public static byte Of(byte mcr)
    {
        if ((mcr & Serial16550.McrLoopback) == 0)
        {
            return Serial16550.ExternalModemLines;
        }

        byte lines = 0;
        if ((mcr & Serial16550.McrDtr) != 0)
        {
            lines |= Serial16550.MsrDsr;
        }

        if ((mcr & Serial16550.McrRts) != 0)
        {
            lines |= Serial16550.MsrCts;
        }

        if ((mcr & Serial16550.McrOut1) != 0)
        {
            lines |= Serial16550.MsrRi;
        }

        if ((mcr & Serial16550.McrOut2) != 0)
        {
            lines |= Serial16550.MsrDcd;
        }

        return lines;
    }

    /// <summary>MSR bits 3..0 for a change of the lines from <paramref name="before"/> to <paramref name="after"/>.</summary>
    public static byte Deltas(byte before, byte after)
    {
        var changed = (byte)(before ^ after);
        byte deltas = 0;
        if ((changed & Serial16550.MsrCts) != 0)
        {
            deltas |= Serial16550.MsrDeltaCts;
        }

        if ((changed & Serial16550.MsrDsr) != 0)
        {
            deltas |= Serial16550.MsrDeltaDsr;
        }

        if ((before & Serial16550.MsrRi) != 0 && (after & Serial16550.MsrRi) == 0)
        {
            deltas |= Serial16550.MsrTrailingEdgeRi;
        }

        if ((changed & Serial16550.MsrDcd) != 0)
        {
            deltas |= Serial16550.MsrDeltaDcd;
        }

        return deltas;
    }
}
