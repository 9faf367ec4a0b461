using System.Collections.Immutable;

namespace ActorVmm.Devices.Legacy;

/// <summary>
/// A minimal i8042 keyboard controller, like Firecracker's: enough for Linux to probe it, reboot through it and talk
/// to a keyboard that acknowledges everything; no AUX (mouse) port, so guests should get
/// <c>i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd</c> (else Linux's AUX loop test waits for its timeout).
/// <para>
/// One key combination comes from the host: Ctrl-Alt-Del (<see cref="IHostInput"/>, byte <see cref="HostCtrlAltDel"/>),
/// the graceful stop of a guest (Linux sends SIGINT to init for it). The make and break codes of Ctrl, Alt and Del
/// go into the output buffer whole or not at all, in scan code set 2, or set 1 while the command byte asks the
/// controller to translate (<see cref="CtrTranslate"/>); the guest reads them one byte at a time from port 0x60 with
/// IRQ 1 raised for each (when the command byte enables keyboard interrupts). Refused while the keyboard interface is
/// disabled or the buffer lacks room for the whole sequence; other host bytes are ignored; both are counted.
/// </para>
/// <para>
/// One window at <see cref="ActorVmm.Kvm.Layout.I8042Port"/> of <see cref="RangeSize"/> ports: offset 0 is data (0x60), offset
/// 4 status / command (0x64); offset 1 (0x61) is answered by an embedded <see cref="SystemControlPortB"/>, offsets
/// 2 and 3 are unhandled.
/// </para>
/// <para>
/// Reset: command 0xFE (Linux's <c>reboot=k</c>), any other pulse command 0xF0-0xFF with bit 0 clear, and an output
/// port write (0xD1) with bit 0 clear, as QEMU does, each call <c>onReset</c> once, synchronously on the device's
/// thread: it must not block or throw. Used from one thread at a time (the device actor).
/// </para>
/// </summary>
public sealed class I8042 : IBusDevice, IStatefulDevice, IHostInput
{
    /// <summary>Ports 0x60..0x64.</summary>
    public const ulong RangeSize = 5;

    public const ulong DataOffset = 0;
    public const ulong PortBOffset = 1;
    public const ulong StatusOffset = 4;
    public const ulong CommandOffset = 4;

    // Controller commands (written to port 0x64).
    public const byte CmdReadCommandByte = 0x20;
    public const byte CmdWriteCommandByte = 0x60;
    public const byte CmdDisableAux = 0xa7;
    public const byte CmdEnableAux = 0xa8;
    public const byte CmdSelfTest = 0xaa;
    public const byte CmdKeyboardInterfaceTest = 0xab;
    public const byte CmdDisableKeyboard = 0xad;
    public const byte CmdEnableKeyboard = 0xae;
    public const byte CmdReadInputPort = 0xc0;
    public const byte CmdReadOutputPort = 0xd0;
    public const byte CmdWriteOutputPort = 0xd1;
    public const byte CmdWriteKeyboardOutput = 0xd2;
    public const byte CmdPulseOutputPortFirst = 0xf0;
    public const byte CmdResetCpu = 0xfe;

    // Replies.
    public const byte SelfTestPassed = 0x55;
    public const byte InterfaceTestPassed = 0x00;
    public const byte KeyboardAck = 0xfa;
    public const byte KeyboardSelfTestPassed = 0xaa;
    public const byte InputPortValue = 0x80; // keyboard not inhibited

    // Keyboard commands with a reply other than a bare ACK.
    public const byte KbdEcho = 0xee;
    public const byte KbdIdentify = 0xf2;
    public const byte KbdReset = 0xff;
    public const byte KbdIdFirst = 0xab;
    public const byte KbdIdSecond = 0x83;

    // Status register bits (port 0x64 read).
    public const byte StatusOutputFull = 0x01;
    public const byte StatusInputFull = 0x02;
    public const byte StatusSystemFlag = 0x04;
    public const byte StatusLastWasCommand = 0x08;
    public const byte StatusKeyboardUnlocked = 0x10;

    // Command byte bits.
    public const byte CtrKeyboardInterrupt = 0x01;
    public const byte CtrAuxInterrupt = 0x02;
    public const byte CtrSystemFlag = 0x04;
    public const byte CtrKeyboardDisabled = 0x10;
    public const byte CtrAuxDisabled = 0x20;
    public const byte CtrTranslate = 0x40;

    // Output port bits.
    public const byte OutputPortResetLine = 0x01; // 0 = CPU held in reset
    public const byte OutputPortA20 = 0x02;

    /// <summary>Power-on command byte, as Firecracker: keyboard interrupt on, POST passed.</summary>
    public const byte DefaultCommandByte = CtrKeyboardInterrupt | CtrSystemFlag;

    public const byte DefaultOutputPort = OutputPortResetLine | OutputPortA20;

    /// <summary>Bytes the controller holds for the guest to read from port 0x60.</summary>
    public const int OutputBufferCapacity = 16;

    /// <summary>The host input byte that presses (and releases) Ctrl-Alt-Del; every other byte is ignored.</summary>
    public const byte HostCtrlAltDel = 0x01;

    private readonly Action _onReset;
    private readonly IInterruptLine? _keyboardInterrupt;
    private readonly SystemControlPortB _portB;
    private readonly Queue<byte> _output = new(OutputBufferCapacity);
    private byte _commandByte;
    private byte _outputPort;
    private bool _systemFlag;
    private bool _lastWasCommand;
    private byte _pendingCommand;
    private long _resetRequests;
    private long _ctrlAltDelPresses;
    private long _refusedHostInput;
    private long _ignoredHostInput;

    /// <param name="name">Device name, e.g. <c>i8042</c>.</param>
    /// <param name="onReset">Called once per CPU reset command (see the class comment).</param>
    /// <param name="keyboardInterrupt">ISA IRQ 1, raised (edge) when the keyboard answers a command and the
    /// command byte enables keyboard interrupts; null for none.</param>
    public I8042(string name, Action onReset, IInterruptLine? keyboardInterrupt = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(onReset);
        Name = name;
        _onReset = onReset;
        _keyboardInterrupt = keyboardInterrupt;
        _portB = new SystemControlPortB(name + ".port61");
        Reset();
    }

    public string Name { get; }

    public DeviceStats Stats { get; } = new();

    /// <summary>How many CPU resets the guest asked for.</summary>
    public long ResetRequests => Interlocked.Read(ref _resetRequests);

    /// <summary>Ctrl-Alt-Del sequences put in the output buffer.</summary>
    public long CtrlAltDelPresses => Interlocked.Read(ref _ctrlAltDelPresses);

    /// <summary>Ctrl-Alt-Del requests refused: keyboard interface disabled, or no room for the whole sequence.</summary>
    public long RefusedHostInput => Interlocked.Read(ref _refusedHostInput);

    /// <summary>Host input bytes that are not a request this controller knows (ignored).</summary>
    public long IgnoredHostInput => Interlocked.Read(ref _ignoredHostInput);

    /// <summary>Ctrl, Alt, Del made, then Del, Alt, Ctrl broken, in scan code set 2 (E0 prefixes Del; F0 a break).</summary>
    public static ReadOnlySpan<byte> CtrlAltDelSet2 => [0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14];

    /// <summary>The same in set 1, as the controller translates it (a break is the make code with bit 7 set).</summary>
    public static ReadOnlySpan<byte> CtrlAltDelSet1 => [0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d];

    /// <summary>
    /// Host input: each <see cref="HostCtrlAltDel"/> byte presses Ctrl-Alt-Del (see the class comment). Returns how
    /// many bytes were taken; refused and ignored bytes are counted here.
    /// </summary>
    public int AcceptInput(ReadOnlySpan<byte> input)
    {
        var accepted = 0;
        foreach (var request in input)
        {
            if (request != HostCtrlAltDel)
            {
                Interlocked.Increment(ref _ignoredHostInput);
            }
            else if (PressCtrlAltDel())
            {
                accepted++;
            }
            else
            {
                Interlocked.Increment(ref _refusedHostInput);
            }
        }

        return accepted;
    }

    public void Read(ulong offset, Span<byte> data)
    {
        if (!PortAccess.CheckByteRead(Stats, data))
        {
            return;
        }

        switch (offset)
        {
            case DataOffset:
                data[0] = _output.TryDequeue(out var b) ? b : (byte)0;
                if (_output.Count > 0)
                {
                    // More keyboard bytes waiting (e.g. the ID after an ACK): interrupt again, as Firecracker.
                    RaiseKeyboardInterrupt();
                }

                break;
            case PortBOffset:
                data[0] = _portB.ReadValue();
                break;
            case StatusOffset:
                data[0] = Status();
                break;
            default:
                Stats.CountUnhandledRead();
                PortAccess.FillAllOnes(data);
                break;
        }
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        if (!PortAccess.CheckByteWrite(Stats, data))
        {
            return;
        }

        switch (offset)
        {
            case DataOffset:
                WriteData(data[0]);
                break;
            case PortBOffset:
                _portB.WriteValue(data[0]);
                break;
            case CommandOffset:
                WriteCommand(data[0]);
                break;
            default:
                Stats.CountUnhandledWrite();
                break;
        }
    }

    public object SaveState() => new I8042State(
        _commandByte, _outputPort, _systemFlag, _lastWasCommand, _pendingCommand, [.. _output],
        (SystemControlPortBState)_portB.SaveState());

    public void RestoreState(object state)
    {
        if (state is not I8042State s)
        {
            throw new ArgumentException($"Expected {nameof(I8042State)}, got {state?.GetType().Name ?? "null"}.", nameof(state));
        }

        _commandByte = s.CommandByte;
        _outputPort = s.OutputPort;
        _systemFlag = s.SystemFlag;
        _lastWasCommand = s.LastWriteWasCommand;
        _pendingCommand = IsCommandWithData(s.PendingCommand) ? s.PendingCommand : (byte)0;
        _output.Clear();
        ReadOnlySpan<byte> buffered = s.OutputBuffer.IsDefault ? default : s.OutputBuffer.AsSpan();
        foreach (var b in buffered[..Math.Min(buffered.Length, OutputBufferCapacity)])
        {
            _output.Enqueue(b);
        }

        _portB.RestoreState(s.PortB);
    }

    public void Reset()
    {
        _commandByte = DefaultCommandByte;
        _outputPort = DefaultOutputPort;
        _systemFlag = true;
        _lastWasCommand = false;
        _pendingCommand = 0;
        _output.Clear();
        _portB.Reset();
    }

    private byte Status()
    {
        var status = StatusKeyboardUnlocked;
        if (_output.Count > 0)
        {
            status |= StatusOutputFull;
        }

        if (_systemFlag)
        {
            status |= StatusSystemFlag;
        }

        if (_lastWasCommand)
        {
            status |= StatusLastWasCommand;
        }

        return (byte)status;
    }

    private static bool IsCommandWithData(byte command) =>
        command is CmdWriteCommandByte or CmdWriteOutputPort or CmdWriteKeyboardOutput;

    private void WriteCommand(byte command)
    {
        _lastWasCommand = true;
        _pendingCommand = 0;
        switch (command)
        {
            case CmdReadCommandByte:
                ReplyFromController(_commandByte);
                break;
            case CmdWriteCommandByte:
            case CmdWriteOutputPort:
            case CmdWriteKeyboardOutput:
                _pendingCommand = command;
                break;
            case CmdDisableAux:
                _commandByte |= CtrAuxDisabled;
                break;
            case CmdEnableAux:
                _commandByte = (byte)(_commandByte & ~CtrAuxDisabled);
                break;
            case CmdSelfTest:
                _systemFlag = true;
                ReplyFromController(SelfTestPassed);
                break;
            case CmdKeyboardInterfaceTest:
                ReplyFromController(InterfaceTestPassed);
                break;
            case CmdDisableKeyboard:
                _commandByte |= CtrKeyboardDisabled;
                break;
            case CmdEnableKeyboard:
                _commandByte = (byte)(_commandByte & ~CtrKeyboardDisabled);
                break;
            case CmdReadInputPort:
                ReplyFromController(InputPortValue);
                break;
            case CmdReadOutputPort:
                ReplyFromController(_outputPort);
                break;
            case >= CmdPulseOutputPortFirst:
                // Pulse the output port bits whose command bit is 0 (bits 3..0); bit 0 is the CPU reset line.
                if ((command & OutputPortResetLine) == 0)
                {
                    RequestReset();
                }

                break;
            default:
                Stats.CountUnhandledWrite();
                break;
        }
    }

    private void WriteData(byte value)
    {
        _lastWasCommand = false;
        var pending = _pendingCommand;
        _pendingCommand = 0;
        switch (pending)
        {
            case CmdWriteCommandByte:
                _commandByte = value;
                _systemFlag = (value & CtrSystemFlag) != 0;
                break;
            case CmdWriteOutputPort:
                _outputPort = value;
                if ((value & OutputPortResetLine) == 0)
                {
                    RequestReset();
                }

                break;
            case CmdWriteKeyboardOutput:
                ReplyFromKeyboard([value]);
                break;
            default:
                KeyboardCommand(value);
                break;
        }
    }

    /// <summary>A byte sent to the keyboard: it answers like a keyboard that accepts everything.</summary>
    private void KeyboardCommand(byte command)
    {
        switch (command)
        {
            case KbdReset:
                ReplyFromKeyboard([KeyboardAck, KeyboardSelfTestPassed]);
                break;
            case KbdIdentify:
                ReplyFromKeyboard([KeyboardAck, KbdIdFirst, KbdIdSecond]);
                break;
            case KbdEcho:
                ReplyFromKeyboard([KbdEcho]);
                break;
            default:
                // Commands and their parameter bytes (LEDs, typematic rate, scan set) are all acknowledged.
                ReplyFromKeyboard([KeyboardAck]);
                break;
        }
    }

    /// <summary>A controller reply replaces whatever was buffered, so the guest reads exactly this byte next.</summary>
    private void ReplyFromController(byte value)
    {
        _output.Clear();
        _output.Enqueue(value);
    }

    private void ReplyFromKeyboard(ReadOnlySpan<byte> bytes)
    {
        _output.Clear();
        foreach (var b in bytes)
        {
            _output.Enqueue(b);
        }

        RaiseKeyboardInterrupt();
    }

    /// <summary>Queues the whole Ctrl-Alt-Del sequence; interrupts for the first byte, reads chain the rest.</summary>
    private bool PressCtrlAltDel()
    {
        var sequence = (_commandByte & CtrTranslate) != 0 ? CtrlAltDelSet1 : CtrlAltDelSet2;
        if ((_commandByte & CtrKeyboardDisabled) != 0 || OutputBufferCapacity - _output.Count < sequence.Length)
        {
            return false;
        }

        var wasEmpty = _output.Count == 0;
        foreach (var b in sequence)
        {
            _output.Enqueue(b);
        }

        Interlocked.Increment(ref _ctrlAltDelPresses);
        if (wasEmpty)
        {
            RaiseKeyboardInterrupt();
        }

        return true;
    }

    private void RaiseKeyboardInterrupt()
    {
        if (_keyboardInterrupt is not null && (_commandByte & CtrKeyboardInterrupt) != 0)
        {
            _keyboardInterrupt.Trigger();
        }
    }

    private void RequestReset()
    {
        Interlocked.Increment(ref _resetRequests);
        _onReset();
    }
}
