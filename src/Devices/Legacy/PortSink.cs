namespace ActorVmm.Devices.Legacy;

/// <summary>
/// A quiet range of ports that a booting kernel pokes and nothing needs to act on: the POST code / I/O delay port
/// 0x80, the alternative delay port 0xed, DMA page registers such as 0x87, and absent legacy devices (COM2..4,
/// LPT) that should read as "nothing here". Reads return <see cref="ReadValue"/> in every byte (all-ones by
/// default, which is what an empty ISA bus answers); writes are dropped, counted in
/// <see cref="DeviceStats.Writes"/>, and the last one is kept (so port 0x80 shows the last POST code). Accepts
/// 1-, 2- and 4-byte accesses that fit inside the range; anything else is counted as a bad size / unhandled.
/// Used from one thread at a time (the device actor).
/// </summary>
public sealed class PortSink : IBusDevice, IStatefulDevice
{
    private ulong _lastWriteOffset;
    private uint _lastValue;
    private bool _written;

    /// <param name="name">Device name, e.g. <c>post</c>, <c>port87</c>.</param>
    /// <param name="size">Ports covered, starting at the mapped base (at least 1).</param>
    /// <param name="readValue">Byte returned for every byte read.</param>
    public PortSink(string name, ulong size = 1, byte readValue = 0xff)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentOutOfRangeException.ThrowIfZero(size);
        Name = name;
        Size = size;
        ReadValue = readValue;
    }

    /// <summary>A sink for the POST code port 0x80 (also Linux's default I/O delay port).</summary>
    public static PortSink PostCode(string name = "post") => new(name);

    public string Name { get; }

    /// <summary>Ports covered; map it with this size.</summary>
    public ulong Size { get; }

    public byte ReadValue { get; }

    public DeviceStats Stats { get; } = new();

    /// <summary>The last value written (little-endian, zero-extended), or null if nothing was written yet.</summary>
    public uint? LastValue => _written ? _lastValue : null;

    /// <summary>Offset of the last write.</summary>
    public ulong LastWriteOffset => _lastWriteOffset;

    public void Read(ulong offset, Span<byte> data)
    {
        Stats.CountRead();
        if (!IsValidWidth(data.Length))
        {
            Stats.CountBadSize();
            PortAccess.FillAllOnes(data);
            return;
        }

        if (!Fits(offset, data.Length))
        {
            Stats.CountUnhandledRead();
            PortAccess.FillAllOnes(data);
            return;
        }

        data.Fill(ReadValue);
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        Stats.CountWrite();
        if (!IsValidWidth(data.Length))
        {
            Stats.CountBadSize();
            return;
        }

        if (!Fits(offset, data.Length))
        {
            Stats.CountUnhandledWrite();
            return;
        }

        Span<byte> value = stackalloc byte[4];
        value.Clear();
        data.CopyTo(value);
        _lastValue = BitConverter.ToUInt32(value);
        _lastWriteOffset = offset;
        _written = true;
    }

    public object SaveState() => new PortSinkState(_written ? _lastValue : null, _lastWriteOffset);

    public void RestoreState(object state)
    {
        if (state is not PortSinkState s)
        {
            throw new ArgumentException($"Expected {nameof(PortSinkState)}, got {state?.GetType().Name ?? "null"}.", nameof(state));
        }

        _written = s.LastValue.HasValue;
        _lastValue = s.LastValue ?? 0;
        _lastWriteOffset = s.LastWriteOffset;
    }

    public void Reset()
    {
        _written = false;
        _lastValue = 0;
        _lastWriteOffset = 0;
    }

    private static bool IsValidWidth(int length) => length is 1 or 2 or 4;

    private bool Fits(ulong offset, int length) => offset < Size && (ulong)length <= Size - offset;
}
