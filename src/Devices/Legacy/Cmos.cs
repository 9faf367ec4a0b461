using System.Collections.Immutable;

namespace ActorVmm.Devices.Legacy;

/// <summary>
/// The MC146818 RTC / CMOS RAM at ports 0x70 (offset 0: index; bit 7, NMI disable, is masked off) and 0x71 (offset
/// 1: data), like crosvm's and QEMU's: 128 bytes of CMOS, time and date from an injected clock (UTC) in BCD or
/// binary and 24- or 12-hour mode as status register B says, and the memory size bytes Linux's early code reads.
/// <para>
/// No interrupts (status C reads 0; bits written to B are stored but raise nothing), and writes to the time
/// registers are dropped and counted as unhandled: the clock follows the injected clock, as in crosvm. Used from
/// one thread at a time (the device actor).
/// </para>
/// </summary>
public sealed class Cmos : IBusDevice, IStatefulDevice
{
    /// <summary>Ports 0x70..0x71.</summary>
    public const ulong RangeSize = 2;

    public const ulong IndexOffset = 0;
    public const ulong DataOffset = 1;

    public const int Size = 128;
    public const byte IndexMask = 0x7f;
    public const byte NmiDisableBit = 0x80;

    // Time and date registers.
    public const byte RegSeconds = 0x00;
    public const byte RegSecondsAlarm = 0x01;
    public const byte RegMinutes = 0x02;
    public const byte RegMinutesAlarm = 0x03;
    public const byte RegHours = 0x04;
    public const byte RegHoursAlarm = 0x05;
    public const byte RegWeekday = 0x06;
    public const byte RegDayOfMonth = 0x07;
    public const byte RegMonth = 0x08;
    public const byte RegYear = 0x09;
    public const byte RegCentury = 0x32;

    // Status registers.
    public const byte RegStatusA = 0x0a;
    public const byte RegStatusB = 0x0b;
    public const byte RegStatusC = 0x0c;
    public const byte RegStatusD = 0x0d;

    // Memory size registers.
    public const byte RegBaseMemoryLow = 0x15;
    public const byte RegBaseMemoryHigh = 0x16;
    public const byte RegExtendedMemoryLow = 0x17;
    public const byte RegExtendedMemoryHigh = 0x18;
    public const byte RegExtendedMemoryLowCopy = 0x30;
    public const byte RegExtendedMemoryHighCopy = 0x31;
    public const byte RegMemoryAbove16MiBLow = 0x34;
    public const byte RegMemoryAbove16MiBHigh = 0x35;
    public const byte RegMemoryAbove4GiBLow = 0x5b;
    public const byte RegMemoryAbove4GiBMiddle = 0x5c;
    public const byte RegMemoryAbove4GiBHigh = 0x5d;

    // Status A: update in progress (always clear, read-only), 32.768 kHz divider, 1024 Hz rate.
    public const byte StatusAUpdateInProgress = 0x80;
    public const byte DefaultStatusA = 0x26;

    // Status B bits.
    public const byte StatusBSet = 0x80;
    public const byte StatusBBinary = 0x04;
    public const byte StatusB24Hour = 0x02;
    public const byte DefaultStatusB = StatusB24Hour;

    // Status D: valid RAM and time.
    public const byte StatusDValid = 0x80;

    /// <summary>PM flag of the hour register in 12-hour mode.</summary>
    public const byte HourPm = 0x80;

    public const int BaseMemoryKiB = 640;

    private const ulong KiB = 1024;
    private const ulong MiB = 1024 * KiB;
    private const ulong Units64KiB = 64 * KiB;

    private readonly Func<DateTimeOffset> _clock;
    private readonly byte[] _powerOn = new byte[Size];
    private readonly byte[] _data = new byte[Size];
    private byte _index;
    private bool _nmiDisabled;

    /// <param name="name">Device name, e.g. <c>cmos</c>.</param>
    /// <param name="memoryBelow4GiB">Guest RAM below 4 GiB (up to the start of the 32-bit PCI hole), in bytes.</param>
    /// <param name="memoryAbove4GiB">Guest RAM from 4 GiB up, in bytes.</param>
    /// <param name="clock">Wall clock; defaults to <see cref="DateTimeOffset.UtcNow"/>. Read as UTC.</param>
    public Cmos(string name, ulong memoryBelow4GiB, ulong memoryAbove4GiB, Func<DateTimeOffset>? clock = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        Name = name;
        _clock = clock ?? (() => DateTimeOffset.UtcNow);

        _powerOn[RegStatusA] = DefaultStatusA;
        _powerOn[RegStatusB] = DefaultStatusB;
        _powerOn[RegStatusD] = StatusDValid;
        SetWord(_powerOn, RegBaseMemoryLow, BaseMemoryKiB);

        // Extended memory above 1 MiB in KiB, capped at 0xffff (≈64 MiB) as QEMU does.
        var extendedKiB = Math.Min(0xffffUL, memoryBelow4GiB / KiB > 1024 ? memoryBelow4GiB / KiB - 1024 : 0);
        SetWord(_powerOn, RegExtendedMemoryLow, (int)extendedKiB);
        SetWord(_powerOn, RegExtendedMemoryLowCopy, (int)extendedKiB);

        // Memory from 16 MiB to the end of RAM below 4 GiB in 64 KiB units, capped at 0xffff (crosvm, QEMU).
        var above16MiB = Math.Min(0xffffUL, memoryBelow4GiB > 16 * MiB ? (memoryBelow4GiB - 16 * MiB) / Units64KiB : 0);
        SetWord(_powerOn, RegMemoryAbove16MiBLow, (int)above16MiB);

        // Memory above 4 GiB in 64 KiB units, three bytes, capped at 0xffffff.
        var above4GiB = Math.Min(0xffffffUL, memoryAbove4GiB / Units64KiB);
        _powerOn[RegMemoryAbove4GiBLow] = (byte)above4GiB;
        _powerOn[RegMemoryAbove4GiBMiddle] = (byte)(above4GiB >> 8);
        _powerOn[RegMemoryAbove4GiBHigh] = (byte)(above4GiB >> 16);

        Reset();
    }

    public string Name { get; }

    public DeviceStats Stats { get; } = new();

    /// <summary>Whether the guest's last index write had bit 7 (NMI disable) set. Informational: no NMIs come from here.</summary>
    public bool NmiDisabled => _nmiDisabled;

    public void Read(ulong offset, Span<byte> data)
    {
        if (!PortAccess.CheckByteRead(Stats, data))
        {
            return;
        }

        switch (offset)
        {
            case IndexOffset:
                // Write-only on real parts; we answer with the latched index, as crosvm does.
                data[0] = _index;
                break;
            case DataOffset:
                data[0] = ReadRegister(_index);
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
            case IndexOffset:
                _index = (byte)(data[0] & IndexMask);
                _nmiDisabled = (data[0] & NmiDisableBit) != 0;
                break;
            case DataOffset:
                WriteRegister(_index, data[0]);
                break;
            default:
                Stats.CountUnhandledWrite();
                break;
        }
    }

    public object SaveState() => new CmosState(_index, _nmiDisabled, [.. _data]);

    public void RestoreState(object state)
    {
        if (state is not CmosState s)
        {
            throw new ArgumentException($"Expected {nameof(CmosState)}, got {state?.GetType().Name ?? "null"}.", nameof(state));
        }

        if (s.Data.IsDefault || s.Data.Length != Size)
        {
            throw new ArgumentException($"CMOS state must hold {Size} bytes.", nameof(state));
        }

        _index = (byte)(s.Index & IndexMask);
        _nmiDisabled = s.NmiDisabled;
        s.Data.CopyTo(_data);
    }

    public void Reset()
    {
        _powerOn.CopyTo(_data, 0);
        _index = 0;
        _nmiDisabled = false;
    }

    private static void SetWord(byte[] data, byte lowIndex, int value)
    {
        data[lowIndex] = (byte)value;
        data[lowIndex + 1] = (byte)(value >> 8);
    }

    private static bool IsClockRegister(byte index) =>
        index is RegSeconds or RegMinutes or RegHours or RegWeekday or RegDayOfMonth or RegMonth or RegYear
            or RegCentury;

    private byte ReadRegister(byte index)
    {
        if (IsClockRegister(index))
        {
            return ReadClock(index);
        }

        return index switch
        {
            RegStatusA => (byte)(_data[RegStatusA] & ~StatusAUpdateInProgress),
            RegStatusC => 0, // no interrupt flags: this RTC raises no interrupts
            RegStatusD => StatusDValid,
            _ => _data[index],
        };
    }

    private void WriteRegister(byte index, byte value)
    {
        if (IsClockRegister(index) || index is RegStatusC or RegStatusD)
        {
            // Time follows the injected clock; C and D are read-only.
            Stats.CountUnhandledWrite();
            return;
        }

        _data[index] = index == RegStatusA ? (byte)(value & ~StatusAUpdateInProgress) : value;
    }

    private byte ReadClock(byte index)
    {
        var now = _clock().UtcDateTime;
        var statusB = _data[RegStatusB];
        var binary = (statusB & StatusBBinary) != 0;
        var hour24 = (statusB & StatusB24Hour) != 0;

        if (index == RegHours && !hour24)
        {
            var hour12 = now.Hour % 12 == 0 ? 12 : now.Hour % 12;
            var encoded = Encode(hour12, binary);
            return now.Hour >= 12 ? (byte)(encoded | HourPm) : encoded;
        }

        var value = index switch
        {
            RegSeconds => now.Second,
            RegMinutes => now.Minute,
            RegHours => now.Hour,
            RegWeekday => (int)now.DayOfWeek + 1, // 1 = Sunday
            RegDayOfMonth => now.Day,
            RegMonth => now.Month,
            RegYear => now.Year % 100,
            _ => now.Year / 100, // RegCentury
        };
        return Encode(value, binary);
    }

    private static byte Encode(int value, bool binary) => binary ? (byte)value : PortAccess.ToBcd(value);
}
