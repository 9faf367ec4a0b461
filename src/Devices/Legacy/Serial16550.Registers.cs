namespace ActorVmm.Devices.Legacy;

/// <summary>The 16550's register offsets, register bits and power-on values.</summary>
public sealed partial class Serial16550
{
    // Register offsets. Offsets 0 and 1 are the divisor latch while LCR.DLAB is set.
    public const ulong DataOffset = 0;          // read: RBR, write: THR; DLL when DLAB
    public const ulong InterruptEnableOffset = 1; // IER; DLM when DLAB
    public const ulong InterruptIdOffset = 2;   // read: IIR
    public const ulong FifoControlOffset = 2;   // write: FCR
    public const ulong LineControlOffset = 3;   // LCR
    public const ulong ModemControlOffset = 4;  // MCR
    public const ulong LineStatusOffset = 5;    // LSR
    public const ulong ModemStatusOffset = 6;   // MSR
    public const ulong ScratchOffset = 7;       // SCR

    // IER bits. Only the four 16550 sources exist; the other bits read back as 0 (Linux probes bit 6 for XScale).
    public const byte IerReceivedData = 0x01;
    public const byte IerTransmitterEmpty = 0x02;
    public const byte IerLineStatus = 0x04;
    public const byte IerModemStatus = 0x08;
    public const byte IerValidBits = 0x0f;

    // IIR values (bits 3..0) and the FIFO-enabled bits 7..6.
    public const byte IirNoInterrupt = 0x01;
    public const byte IirModemStatus = 0x00;
    public const byte IirTransmitterEmpty = 0x02;
    public const byte IirReceivedData = 0x04;
    public const byte IirLineStatus = 0x06;
    public const byte IirFifoEnabled = 0xc0;

    // FCR bits.
    public const byte FcrEnableFifo = 0x01;
    public const byte FcrClearReceive = 0x02;
    public const byte FcrClearTransmit = 0x04;

    // LCR bits.
    public const byte LcrDivisorLatchAccess = 0x80;

    // MCR bits.
    public const byte McrDtr = 0x01;
    public const byte McrRts = 0x02;
    public const byte McrOut1 = 0x04;
    public const byte McrOut2 = 0x08;
    public const byte McrLoopback = 0x10;
    public const byte McrValidBits = 0x1f;

    // LSR bits.
    public const byte LsrDataReady = 0x01;
    public const byte LsrOverrun = 0x02;
    public const byte LsrTransmitterHoldingEmpty = 0x20;
    public const byte LsrTransmitterEmpty = 0x40;

    // MSR bits: deltas in 3..0, line states in 7..4.
    public const byte MsrDeltaCts = 0x01;
    public const byte MsrDeltaDsr = 0x02;
    public const byte MsrTrailingEdgeRi = 0x04;
    public const byte MsrDeltaDcd = 0x08;
    public const byte MsrCts = 0x10;
    public const byte MsrDsr = 0x20;
    public const byte MsrRi = 0x40;
    public const byte MsrDcd = 0x80;

    // Power-on values, as vm-superio: 8N1, OUT2 set, 9600 baud, a "connected" modem outside loopback.
    public const byte DefaultLineControl = 0x03;
    public const byte DefaultModemControl = McrOut2;
    public const byte DefaultDivisorLow = 0x0c;
    public const byte DefaultDivisorHigh = 0x00;
    public const byte ExternalModemLines = MsrDcd | MsrDsr | MsrCts;
}
