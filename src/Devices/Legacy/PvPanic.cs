namespace ActorVmm.Devices.Legacy;

/// <summary>
/// QEMU's pvpanic ISA device (ACPI id QEMU0001, one port at <see cref="ActorVmm.Kvm.Layout.PvPanicPort"/>): a read
/// returns the events it supports (<see cref="Capabilities"/>); the guest's pvpanic driver writes
/// <see cref="Panicked"/> when its kernel panics, which calls <c>onPanic</c>, or <see cref="CrashLoaded"/> when a
/// crash kernel takes over instead (counted: the crash kernel keeps running). Other bits, and other widths, are
/// counted and ignored. <c>onPanic</c> runs synchronously on the device's thread, once per instance (a guest that
/// keeps writing gets counted, not a stream of stop requests); it must not block or throw. No guest-visible state
/// to save. Used from one thread at a time (the device actor).
/// </summary>
public sealed class PvPanic : IBusDevice
{
    public const ulong RangeSize = 1;

    public const byte Panicked = 0x01;
    public const byte CrashLoaded = 0x02;
    public const byte Capabilities = Panicked | CrashLoaded;

    private readonly Action _onPanic;
    private long _panics;
    private long _crashLoaded;
    private long _unknownEvents;
    private int _reported;

    /// <param name="name">Device name, e.g. <c>pvpanic</c>.</param>
    /// <param name="onPanic">Called on the first write with <see cref="Panicked"/> set.</param>
    public PvPanic(string name, Action onPanic)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(onPanic);
        Name = name;
        _onPanic = onPanic;
    }

    public string Name { get; }

    public DeviceStats Stats { get; } = new();

    /// <summary>Writes with <see cref="Panicked"/> set.</summary>
    public long Panics => Interlocked.Read(ref _panics);

    /// <summary>Writes with <see cref="CrashLoaded"/> set.</summary>
    public long CrashLoadedEvents => Interlocked.Read(ref _crashLoaded);

    /// <summary>Writes with no known event bit, or with bits other than the known ones.</summary>
    public long UnknownEvents => Interlocked.Read(ref _unknownEvents);

    public void Read(ulong offset, Span<byte> data)
    {
        if (!PortAccess.CheckSinglePortRead(Stats, offset, data))
        {
            return;
        }

        data[0] = Capabilities;
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        if (!PortAccess.CheckSinglePortWrite(Stats, offset, data))
        {
            return;
        }

        var events = data[0];
        if ((events & ~Capabilities) != 0 || events == 0)
        {
            Interlocked.Increment(ref _unknownEvents);
        }

        if ((events & CrashLoaded) != 0)
        {
            Interlocked.Increment(ref _crashLoaded);
        }

        if ((events & Panicked) != 0)
        {
            Interlocked.Increment(ref _panics);
            if (Interlocked.Exchange(ref _reported, 1) == 0)
            {
                _onPanic();
            }
        }
    }
}
