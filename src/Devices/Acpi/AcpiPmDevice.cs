using System.Diagnostics;
using ActorVmm.Kvm;

namespace ActorVmm.Devices.Acpi;

/// <summary>
/// ACPI fixed hardware, as QEMU's PIIX4 PM block: one window of <see cref="RangeSize"/> ports at
/// <see cref="Layout.AcpiPm1aEventPort"/> holding PM1a_STS (offset 0), PM1a_EN (2), PM1a_CNT (4) and the PM timer
/// (8, read-only, 3.579545 MHz, 32 bits); offsets 6-7 are reserved (read all-ones, writes dropped, both counted).
/// Accesses of 1, 2 or 4 bytes anywhere inside the window are taken byte by byte, so one may span registers.
/// <list type="bullet">
/// <item>PM1a_STS: <see cref="TmrSts"/>, <see cref="PwrBtnSts"/>, <see cref="WakSts"/>; write 1 to clear.</item>
/// <item>PM1a_EN: stored as written; <see cref="TmrEn"/> and <see cref="PwrBtnEn"/> enable the SCI for their status.</item>
/// <item>PM1a_CNT: <see cref="SciEn"/> always reads 1 (the machine is always in ACPI mode: the FADT has no SMI
/// command port); SLP_TYP is stored; <see cref="SlpEn"/> reads 0 and, written with SLP_TYP =
/// <see cref="Layout.AcpiS5SleepType"/>, calls <c>onPowerOff</c>; other sleep types are counted and ignored.</item>
/// </list>
/// The SCI is a level line: high while <c>STS &amp; EN</c> has a bit set. TMR_STS (the counter's bit 31 changed) is
/// latched when the guest next touches the window, so with TMR_EN it raises the SCI then, not by itself.
/// <para>
/// The power button (<see cref="IHostInput"/>, byte <see cref="HostPowerButton"/>) sets PWRBTN_STS only while the
/// guest has set PWRBTN_EN (an OS with an ACPI button driver): then the byte counts as accepted; otherwise nothing
/// changes and it is refused, so the caller can fall back (to Ctrl-Alt-Del).
/// </para>
/// <c>onPowerOff</c> runs synchronously on the device's thread and must not block or throw. Used from one thread at
/// a time (the device actor).
/// </summary>
public sealed class AcpiPmDevice : IBusDevice, IStatefulDevice, IHostInput
{
    /// <summary>Ports <see cref="Layout.AcpiPm1aEventPort"/>..+11.</summary>
    public const ulong RangeSize = Layout.AcpiPmPortCount;

    public const ulong StatusOffset = 0;
    public const ulong EnableOffset = 2;
    public const ulong ControlOffset = Layout.AcpiPm1aControlPort - Layout.AcpiPm1aEventPort;
    public const ulong TimerOffset = Layout.AcpiPmTimerPort - Layout.AcpiPm1aEventPort;
    public const int TimerBytes = 4;

    // PM1 status and enable bits.
    public const ushort TmrSts = 1 << 0;
    public const ushort PwrBtnSts = 1 << 8;
    public const ushort WakSts = 1 << 15;
    public const ushort StatusBits = TmrSts | PwrBtnSts | WakSts;
    public const ushort TmrEn = 1 << 0;
    public const ushort PwrBtnEn = 1 << 8;

    // PM1 control bits.
    public const ushort SciEn = 1 << 0;
    public const int SlpTypShift = 10;
    public const ushort SlpTypMask = 0x7 << SlpTypShift;
    public const ushort SlpEn = 1 << 13;

    /// <summary>What PM1a_CNT keeps: SCI_EN reads 1 whatever is written, SLP_EN is write-only.</summary>
    public const ushort ControlStored = SlpTypMask;

    /// <summary>The PM timer's rate, in Hz.</summary>
    public const long TimerHz = 3_579_545;

    /// <summary>The host input byte that presses (and releases) the power button; every other byte is ignored.</summary>
    public const byte HostPowerButton = 0x01;

    private const long NanosecondsPerSecond = 1_000_000_000;

    private readonly Action _onPowerOff;
    private readonly IInterruptLine _sci;
    private readonly Func<long> _nanoseconds;
    private ushort _status;
    private ushort _enable;
    private ushort _control;
    private long _timerHalfPeriod;
    private bool _sciLevel;
    private long _powerOffRequests;
    private long _ignoredSleeps;
    private long _powerButtonPresses;
    private long _refusedHostInput;
    private long _ignoredHostInput;

    /// <param name="name">Device name, e.g. <c>acpi-pm</c>.</param>
    /// <param name="sci">The SCI, a level-triggered line (<see cref="Layout.SciIrq"/>).</param>
    /// <param name="onPowerOff">Called once per SLP_EN write with the S5 sleep type (see the class comment).</param>
    /// <param name="monotonicNanoseconds">The PM timer's clock, in nanoseconds, never going back; defaults to the
    /// host's monotonic clock (so a restarted instance goes on counting where the last one was).</param>
    public AcpiPmDevice(string name, IInterruptLine sci, Action onPowerOff, Func<long>? monotonicNanoseconds = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(sci);
        ArgumentNullException.ThrowIfNull(onPowerOff);
        Name = name;
        _sci = sci;
        _onPowerOff = onPowerOff;
        _nanoseconds = monotonicNanoseconds ?? HostNanoseconds;
        _timerHalfPeriod = TimerTicks() >> 31;
    }

    public string Name { get; }

    public DeviceStats Stats { get; } = new();

    /// <summary>PM1a_STS as the guest reads it.</summary>
    public ushort Status => _status;

    /// <summary>PM1a_EN.</summary>
    public ushort Enable => _enable;

    /// <summary>Whether the SCI is driven high.</summary>
    public bool SciAsserted => _sciLevel;

    /// <summary>Whether the guest enabled the power button event (it has a driver that handles a press).</summary>
    public bool PowerButtonEnabled => (_enable & PwrBtnEn) != 0;

    /// <summary>S5 requests (SLP_EN with the S5 sleep type): each called <c>onPowerOff</c>.</summary>
    public long PowerOffRequests => Interlocked.Read(ref _powerOffRequests);

    /// <summary>SLP_EN writes with another sleep type (S1-S4 are not supported): ignored.</summary>
    public long IgnoredSleepRequests => Interlocked.Read(ref _ignoredSleeps);

    /// <summary>Power button presses taken (PWRBTN_STS set).</summary>
    public long PowerButtonPresses => Interlocked.Read(ref _powerButtonPresses);

    /// <summary>Power button presses refused: the guest had not enabled PWRBTN_EN.</summary>
    public long RefusedHostInput => Interlocked.Read(ref _refusedHostInput);

    /// <summary>Host input bytes other than <see cref="HostPowerButton"/> (ignored).</summary>
    public long IgnoredHostInput => Interlocked.Read(ref _ignoredHostInput);

    /// <summary>
    /// Host input: each <see cref="HostPowerButton"/> byte presses the power button (see the class comment).
    /// Returns how many presses were taken; refused and ignored bytes are counted here.
    /// </summary>
    public int AcceptInput(ReadOnlySpan<byte> input)
    {
        var accepted = 0;
        foreach (var request in input)
        {
            if (request != HostPowerButton)
            {
                Interlocked.Increment(ref _ignoredHostInput);
            }
            else if (PowerButtonEnabled)
            {
                _status |= PwrBtnSts;
                Interlocked.Increment(ref _powerButtonPresses);
                accepted++;
            }
            else
            {
                Interlocked.Increment(ref _refusedHostInput);
            }
        }

        UpdateSci();
        return accepted;
    }

    public void Read(ulong offset, Span<byte> data)
    {
        Stats.CountRead();
        if (!CheckAccess(offset, data.Length, write: false))
        {
            data.Fill(0xff);
            return;
        }

        LatchTimerStatus();
        var timer = (uint)TimerTicks();
        var reserved = false;
        for (var i = 0; i < data.Length; i++)
        {
            var at = offset + (ulong)i;
            data[i] = at switch
            {
                < EnableOffset => ByteOf(_status, at - StatusOffset),
                < ControlOffset => ByteOf(_enable, at - EnableOffset),
                < ControlOffset + 2 => ByteOf((ushort)(_control | SciEn), at - ControlOffset),
                < TimerOffset => Reserved(ref reserved),
                _ => (byte)(timer >> (int)(8 * (at - TimerOffset))),
            };
        }

        if (reserved)
        {
            Stats.CountUnhandledRead();
        }

        UpdateSci();
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        Stats.CountWrite();
        if (!CheckAccess(offset, data.Length, write: true))
        {
            return;
        }

        LatchTimerStatus();
        ushort clear = 0, enable = 0, enableMask = 0, control = 0, controlMask = 0;
        var unhandled = false;
        for (var i = 0; i < data.Length; i++)
        {
            var at = offset + (ulong)i;
            switch (at)
            {
                case < EnableOffset:
                    clear |= Shifted(data[i], at - StatusOffset);
                    break;
                case < ControlOffset:
                    enable |= Shifted(data[i], at - EnableOffset);
                    enableMask |= Shifted(0xff, at - EnableOffset);
                    break;
                case < ControlOffset + 2:
                    control |= Shifted(data[i], at - ControlOffset);
                    controlMask |= Shifted(0xff, at - ControlOffset);
                    break;
                default:
                    // Reserved bytes and the read-only timer.
                    unhandled = true;
                    break;
            }
        }

        if (unhandled)
        {
            Stats.CountUnhandledWrite();
        }

        _status = (ushort)(_status & ~clear);
        _enable = (ushort)((_enable & ~enableMask) | (enable & enableMask));
        if (controlMask != 0)
        {
            WriteControl((ushort)((_control & ~controlMask) | (control & controlMask)), (control & controlMask & SlpEn) != 0);
        }

        UpdateSci();
    }

    public object SaveState() => new AcpiPmState(_status, _enable, _control);

    public void RestoreState(object state)
    {
        if (state is not AcpiPmState s)
        {
            throw new ArgumentException($"Expected {nameof(AcpiPmState)}, got {state?.GetType().Name ?? "null"}.", nameof(state));
        }

        _status = (ushort)(s.Status & StatusBits);
        _enable = s.Enable;
        _control = (ushort)(s.Control & ControlStored);
        ResyncSci();
    }

    public void Reset()
    {
        _status = 0;
        _enable = 0;
        _control = 0;
        _timerHalfPeriod = TimerTicks() >> 31;
        ResyncSci();
    }

    private static long HostNanoseconds() =>
        (long)((Int128)Stopwatch.GetTimestamp() * NanosecondsPerSecond / Stopwatch.Frequency);

    private static byte ByteOf(ushort value, ulong index) => (byte)(value >> (int)(8 * index));

    private static ushort Shifted(byte value, ulong index) => (ushort)(value << (int)(8 * index));

    private static byte Reserved(ref bool reserved)
    {
        reserved = true;
        return 0xff;
    }

    /// <summary>1, 2 or 4 bytes inside the window; anything else is counted and has no effect.</summary>
    private bool CheckAccess(ulong offset, int length, bool write)
    {
        if (length is not (1 or 2 or 4))
        {
            Stats.CountBadSize();
            return false;
        }

        if (offset >= RangeSize || (ulong)length > RangeSize - offset)
        {
            if (write)
            {
                Stats.CountUnhandledWrite();
            }
            else
            {
                Stats.CountUnhandledRead();
            }

            return false;
        }

        return true;
    }

    private void WriteControl(ushort value, bool sleep)
    {
        _control = (ushort)(value & ControlStored);
        if (!sleep)
        {
            return;
        }

        if ((_control & SlpTypMask) >> SlpTypShift == Layout.AcpiS5SleepType)
        {
            Interlocked.Increment(ref _powerOffRequests);
            _onPowerOff();
        }
        else
        {
            Interlocked.Increment(ref _ignoredSleeps);
        }
    }

    /// <summary>The counter's whole count since the clock's zero (the guest sees its low 32 bits).</summary>
    private long TimerTicks() => (long)((Int128)Math.Max(0, _nanoseconds()) * TimerHz / NanosecondsPerSecond);

    /// <summary>TMR_STS: set when bit 31 of the counter changed since the last look (each half period of 2^31 ticks).</summary>
    private void LatchTimerStatus()
    {
        var halfPeriod = TimerTicks() >> 31;
        if (halfPeriod != _timerHalfPeriod)
        {
            _timerHalfPeriod = halfPeriod;
            _status |= TmrSts;
        }
    }

    private void UpdateSci()
    {
        var level = (_status & _enable & (TmrEn | PwrBtnEn)) != 0;
        if (level != _sciLevel)
        {
            _sciLevel = level;
            _sci.SetLevel(level);
        }
    }

    /// <summary>Drives the line from the registers whatever it was before (a restore, a reset).</summary>
    private void ResyncSci()
    {
        _sciLevel = (_status & _enable & (TmrEn | PwrBtnEn)) != 0;
        _sci.SetLevel(_sciLevel);
    }
}
