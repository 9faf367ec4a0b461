using System.Collections.Immutable;

namespace ActorVmm.Devices.Legacy;

// One file over 400 lines: the register file and interrupt logic act on one state; constants, FIFO and modem lines are in their own files.

/// <summary>
/// A 16550A UART, the serial console of a stock Linux guest (ttyS0 at <see cref="ActorVmm.Kvm.Layout.Com1Port"/>, IRQ 4), in
/// the spirit of rust-vmm vm-superio's serial: 8 byte-wide registers (<c>Serial16550.Registers.cs</c>), a bounded
/// input FIFO, instant transmission (THR and the shift register are always empty), RDA/THRE/line-status/modem-status
/// interrupts with 16550 IIR priorities, loopback, and the divisor latch (stored, no effect).
/// <para>
/// Threads: none of its own and no lock: one caller at a time for everything, host input included (the runtime's
/// device endpoint serialises every access; stdin reaches <see cref="EnqueueInput"/> through it).
/// </para>
/// <para>
/// Interrupts are edges (<see cref="IInterruptLine.Trigger"/>), as in Firecracker and crosvm: ISA IRQ 4 is
/// edge-triggered and Linux's 8250 handler loops until IIR reads "no interrupt". An edge goes out when an enabled
/// source becomes pending, and on every input arrival while RDA is enabled so that an edge lost while the pin was
/// masked cannot leave input stuck. MCR OUT2 does not gate the line (as in Firecracker and QEMU).
/// </para>
/// </summary>
public sealed partial class Serial16550 : IBusDevice, IStatefulDevice, IHostInput
{
    /// <summary>Number of ports the device occupies (base..base+7).</summary>
    public const ulong RangeSize = 8;

    /// <summary>Bytes of input held for the guest; more is dropped and counted as an overrun.</summary>
    public const int InputFifoCapacity = 64;

    // Interrupt sources, one bit each, for edge detection.
    private const int SourceLineStatus = 1;
    private const int SourceReceivedData = 2;
    private const int SourceTransmitterEmpty = 4;
    private const int SourceModemStatus = 8;

    private readonly IInterruptLine _interrupt;
    private readonly SerialOutput _output;
    private readonly SerialInputFifo _fifo = new(InputFifoCapacity);

    private byte _ier;
    private byte _lcr;
    private byte _mcr;
    private byte _scr;
    private byte _dll;
    private byte _dlm;
    private byte _fcr;
    private byte _lsrErrors;
    private byte _msrDeltas;
    private bool _threPending;
    private int _activeSources;

    private long _overruns;
    private long _bytesOut;
    private long _bytesIn;

    public Serial16550(string name, IInterruptLine interrupt, SerialOutput output)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(interrupt);
        ArgumentNullException.ThrowIfNull(output);
        Name = name;
        _interrupt = interrupt;
        _output = output;
        ResetRegisters();
    }

    public string Name { get; }

    public DeviceStats Stats { get; } = new();

    /// <summary>Input bytes dropped because the FIFO was full (host input or loopback).</summary>
    public long Overruns => Interlocked.Read(ref _overruns);

    /// <summary>Bytes the guest transmitted to the output sink.</summary>
    public long BytesOut => Interlocked.Read(ref _bytesOut);

    /// <summary>Bytes accepted into the input FIFO.</summary>
    public long BytesIn => Interlocked.Read(ref _bytesIn);

    /// <summary>Free space in the input FIFO now (for a console that wants to apply backpressure).</summary>
    public int InputFifoFree
    {
        get
        {
            return InputFifoCapacity - _fifo.Count;
        }
    }

    /// <summary>
    /// Hands input (e.g. stdin) to the guest. Bytes that do not fit in the FIFO are dropped, counted in
    /// <see cref="Overruns"/> and flagged with LSR.OE. In loopback mode the external input is disconnected and the
    /// bytes are dropped (not counted as overruns). Raises the RDA interrupt if enabled.
    /// </summary>
    /// <returns>The number of bytes accepted.</returns>
    public int EnqueueInput(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
        {
            return 0;
        }

        int accepted;
        bool trigger;
        if ((_mcr & McrLoopback) != 0)
        {
            return 0;
        }

        accepted = PushInput(input);
        trigger = UpdateInterrupt(retriggerReceivedData: accepted > 0);

        RaiseIf(trigger);
        return accepted;
    }

    int IHostInput.AcceptInput(ReadOnlySpan<byte> input) => EnqueueInput(input);

    public void Read(ulong offset, Span<byte> data)
    {
        if (!PortAccess.CheckByteRead(Stats, data))
        {
            return;
        }

        if (offset >= RangeSize)
        {
            Stats.CountUnhandledRead();
            PortAccess.FillAllOnes(data);
            return;
        }

        bool trigger;
        data[0] = ReadRegister(offset);
        trigger = UpdateInterrupt(retriggerReceivedData: false);

        RaiseIf(trigger);
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        if (!PortAccess.CheckByteWrite(Stats, data))
        {
            return;
        }

        if (offset >= RangeSize)
        {
            Stats.CountUnhandledWrite();
            return;
        }

        var value = data[0];
        bool transmit;
        bool trigger;
        transmit = WriteRegister(offset, value);
        trigger = UpdateInterrupt(retriggerReceivedData: false);

        if (transmit)
        {
            Interlocked.Increment(ref _bytesOut);
            _output([value]);
        }

        RaiseIf(trigger);
    }

    public object SaveState()
    {
        return new Serial16550State(
            _ier, _lcr, _mcr, _scr, _dll, _dlm, _fcr, _lsrErrors, _msrDeltas, _threPending,
            ImmutableArray.Create(_fifo.ToArray()));
    }

    /// <summary>
    /// Brings back a <see cref="Serial16550State"/>. Values are masked to what the registers can hold and at most
    /// <see cref="InputFifoCapacity"/> input bytes are kept. If an enabled interrupt is pending afterwards the
    /// line is triggered once, so a guest that lost the edge in the restart still gets it.
    /// </summary>
    public void RestoreState(object state)
    {
        if (state is not Serial16550State s)
        {
            throw new ArgumentException($"Expected {nameof(Serial16550State)}, got {state?.GetType().Name ?? "null"}.", nameof(state));
        }

        bool trigger;
        _ier = (byte)(s.InterruptEnable & IerValidBits);
        _lcr = s.LineControl;
        _mcr = (byte)(s.ModemControl & McrValidBits);
        _scr = s.Scratch;
        _dll = s.DivisorLow;
        _dlm = s.DivisorHigh;
        _fcr = (byte)(s.FifoControl & FcrEnableFifo);
        _lsrErrors = (byte)(s.LineStatusErrors & LsrOverrun);
        _msrDeltas = (byte)(s.ModemStatusDeltas & 0x0f);
        _threPending = s.TransmitterEmptyPending;
        _fifo.Clear();
        _fifo.Push(s.InputFifo.IsDefault ? default : s.InputFifo.AsSpan());
        _activeSources = 0;
        trigger = UpdateInterrupt(retriggerReceivedData: false);

        RaiseIf(trigger);
    }

    public void Reset()
    {
        ResetRegisters();
    }

    private void ResetRegisters()
    {
        _ier = 0;
        _lcr = DefaultLineControl;
        _mcr = DefaultModemControl;
        _scr = 0;
        _dll = DefaultDivisorLow;
        _dlm = DefaultDivisorHigh;
        _fcr = 0;
        _lsrErrors = 0;
        _msrDeltas = 0;
        _threPending = false;
        _fifo.Clear();
        _activeSources = 0;
    }

    private bool DivisorLatchAccess => (_lcr & LcrDivisorLatchAccess) != 0;

    private bool Loopback => (_mcr & McrLoopback) != 0;

    private byte ReadRegister(ulong offset)
    {
        switch (offset)
        {
            case DataOffset when DivisorLatchAccess:
                return _dll;
            case InterruptEnableOffset when DivisorLatchAccess:
                return _dlm;
            case DataOffset:
                return _fifo.Pop();
            case InterruptEnableOffset:
                return _ier;
            case InterruptIdOffset:
                {
                    var iir = InterruptIdentification();
                    // Reading IIR acknowledges THRE when that is what it reports (16550 data sheet).
                    if ((iir & 0x0f) == IirTransmitterEmpty)
                    {
                        _threPending = false;
                    }

                    return (byte)(iir | ((_fcr & FcrEnableFifo) != 0 ? IirFifoEnabled : 0));
                }

            case LineControlOffset:
                return _lcr;
            case ModemControlOffset:
                return _mcr;
            case LineStatusOffset:
                {
                    var lsr = (byte)(LsrTransmitterHoldingEmpty | LsrTransmitterEmpty | _lsrErrors);
                    if (_fifo.Count > 0)
                    {
                        lsr |= LsrDataReady;
                    }

                    // Error bits are cleared by reading LSR.
                    _lsrErrors = 0;
                    return lsr;
                }

            case ModemStatusOffset:
                {
                    var msr = (byte)(SerialModemLines.Of(_mcr) | _msrDeltas);
                    _msrDeltas = 0;
                    return msr;
                }

            default:
                return _scr;
        }
    }

    /// <returns>True if <paramref name="value"/> is to be transmitted to the output sink.</returns>
    private bool WriteRegister(ulong offset, byte value)
    {
        switch (offset)
        {
            case DataOffset when DivisorLatchAccess:
                _dll = value;
                return false;
            case InterruptEnableOffset when DivisorLatchAccess:
                _dlm = value;
                return false;
            case DataOffset:
                // The byte leaves THR at once, so THR is empty again: THRE is (re)armed.
                _threPending = true;
                if (Loopback)
                {
                    PushInput([value]);
                    return false;
                }

                return true;
            case InterruptEnableOffset:
                {
                    var old = _ier;
                    _ier = (byte)(value & IerValidBits);
                    if ((_ier & IerTransmitterEmpty) != 0 && (old & IerTransmitterEmpty) == 0)
                    {
                        // THR is always empty: a real 16550 raises THRE as soon as it is enabled, and Linux's
                        // 8250 startup tests that (otherwise it marks the port UART_BUG_THRE and polls).
                        _threPending = true;
                    }
                    else if ((_ier & IerTransmitterEmpty) == 0)
                    {
                        _threPending = false;
                    }

                    return false;
                }

            case FifoControlOffset:
                if ((value & FcrClearReceive) != 0 || ((value ^ _fcr) & FcrEnableFifo) != 0)
                {
                    // Clearing, enabling or disabling the FIFOs empties the receive FIFO.
                    _fifo.Clear();
                }

                _fcr = (byte)(value & FcrEnableFifo);
                return false;
            case LineControlOffset:
                _lcr = value;
                return false;
            case ModemControlOffset:
                {
                    var before = SerialModemLines.Of(_mcr);
                    _mcr = (byte)(value & McrValidBits);
                    _msrDeltas |= SerialModemLines.Deltas(before, SerialModemLines.Of(_mcr));
                    return false;
                }

            case LineStatusOffset:
            case ModemStatusOffset:
                // Read-only status registers (factory test writes on real parts): dropped.
                Stats.CountUnhandledWrite();
                return false;
            default:
                _scr = value;
                return false;
        }
    }

    private int PendingSources()
    {
        var sources = 0;
        if ((_ier & IerLineStatus) != 0 && (_lsrErrors & LsrOverrun) != 0)
        {
            sources |= SourceLineStatus;
        }

        if ((_ier & IerReceivedData) != 0 && _fifo.Count > 0)
        {
            sources |= SourceReceivedData;
        }

        if ((_ier & IerTransmitterEmpty) != 0 && _threPending)
        {
            sources |= SourceTransmitterEmpty;
        }

        if ((_ier & IerModemStatus) != 0 && _msrDeltas != 0)
        {
            sources |= SourceModemStatus;
        }

        return sources;
    }

    /// <summary>IIR bits 3..0: the highest-priority pending source (line status, data, THRE, modem), or none.</summary>
    private byte InterruptIdentification()
    {
        var sources = PendingSources();
        if ((sources & SourceLineStatus) != 0)
        {
            return IirLineStatus;
        }

        if ((sources & SourceReceivedData) != 0)
        {
            return IirReceivedData;
        }

        if ((sources & SourceTransmitterEmpty) != 0)
        {
            return IirTransmitterEmpty;
        }

        if ((sources & SourceModemStatus) != 0)
        {
            return IirModemStatus;
        }

        return IirNoInterrupt;
    }

    /// <summary>Recomputes the pending sources; true if an edge is due (see the class comment).</summary>
    private bool UpdateInterrupt(bool retriggerReceivedData)
    {
        var sources = PendingSources();
        var raised = sources & ~_activeSources;
        _activeSources = sources;
        return raised != 0 || (retriggerReceivedData && (sources & SourceReceivedData) != 0);
    }

    private void RaiseIf(bool trigger)
    {
        if (trigger)
        {
            _interrupt.Trigger();
        }
    }

    private int PushInput(ReadOnlySpan<byte> input)
    {
        var accepted = _fifo.Push(input);
        if (accepted < input.Length)
        {
            _lsrErrors |= LsrOverrun;
            Interlocked.Add(ref _overruns, input.Length - accepted);
        }

        Interlocked.Add(ref _bytesIn, accepted);
        return accepted;
    }
}
