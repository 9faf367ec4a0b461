namespace ActorVmm.Devices.Legacy;

/// <summary>
/// System control port A (port 0x92, "fast A20"): bit 1 is the A20 gate, bit 0 the fast reset. As QEMU does, a
/// write that sets bit 0 when it was clear (a rising edge) requests a CPU reset through <c>onReset</c>; bit 0 reads
/// back as written until the next write (QEMU keeps it too). A20 is stored and reported but has no effect: guest
/// memory is never wrapped at 1 MiB (a 64-bit guest always has A20 on). Other bits read as 0.
/// <c>onReset</c> is called synchronously on the device's thread and must not block or throw.
/// Used from one thread at a time (the device actor).
/// </summary>
public sealed class FastA20Gate : IBusDevice, IStatefulDevice
{
    public const ulong RangeSize = 1;

    public const byte FastReset = 0x01;
    public const byte A20Enabled = 0x02;
    public const byte WritableBits = FastReset | A20Enabled;

    /// <summary>Power-on value: A20 on (as after firmware).</summary>
    public const byte DefaultValue = A20Enabled;

    private readonly Action _onReset;
    private byte _value;
    private long _resetRequests;

    public FastA20Gate(string name, Action onReset)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(onReset);
        Name = name;
        _onReset = onReset;
        _value = DefaultValue;
    }

    public string Name { get; }

    public DeviceStats Stats { get; } = new();

    public bool A20 => (_value & A20Enabled) != 0;

    /// <summary>How many resets the guest asked for through bit 0.</summary>
    public long ResetRequests => Interlocked.Read(ref _resetRequests);

    public void Read(ulong offset, Span<byte> data)
    {
        if (!PortAccess.CheckSinglePortRead(Stats, offset, data))
        {
            return;
        }

        data[0] = _value;
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        if (!PortAccess.CheckSinglePortWrite(Stats, offset, data))
        {
            return;
        }

        var old = _value;
        _value = (byte)(data[0] & WritableBits);
        if ((_value & FastReset) != 0 && (old & FastReset) == 0)
        {
            Interlocked.Increment(ref _resetRequests);
            _onReset();
        }
    }

    public object SaveState() => new FastA20GateState(_value);

    public void RestoreState(object state)
    {
        if (state is not FastA20GateState s)
        {
            throw new ArgumentException($"Expected {nameof(FastA20GateState)}, got {state?.GetType().Name ?? "null"}.", nameof(state));
        }

        _value = (byte)(s.Value & WritableBits);
    }

    public void Reset() => _value = DefaultValue;
}
