namespace ActorVmm.Devices.Legacy;

/// <summary>
/// System control port B (port 0x61): bit 0 PIT channel 2 gate, bit 1 speaker data, bits 2-3 parity check disables
/// (all stored); bit 4 the refresh toggle and bit 5 PIT channel 2 output (read-only) flip on every read, so loops
/// waiting for either level of either bit (Linux's <c>pit_calibrate_tsc</c>) end instead of hanging. Only reached
/// when KVM's in-kernel PIT does not answer port 0x61 itself.
/// </summary>
public sealed class SystemControlPortB : IBusDevice, IStatefulDevice
{
    public const ulong RangeSize = 1;

    public const byte Timer2Gate = 0x01;
    public const byte SpeakerData = 0x02;
    public const byte ParityCheckDisable = 0x04;
    public const byte ChannelCheckDisable = 0x08;
    public const byte RefreshToggle = 0x10;
    public const byte Timer2Output = 0x20;
    public const byte WritableBits = 0x0f;

    private byte _value;
    private bool _toggle;

    public SystemControlPortB(string name = "port61")
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        Name = name;
    }

    public string Name { get; }

    public DeviceStats Stats { get; } = new();

    public void Read(ulong offset, Span<byte> data)
    {
        if (!PortAccess.CheckSinglePortRead(Stats, offset, data))
        {
            return;
        }

        data[0] = ReadValue();
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        if (!PortAccess.CheckSinglePortWrite(Stats, offset, data))
        {
            return;
        }

        WriteValue(data[0]);
    }

    public object SaveState() => new SystemControlPortBState(_value, _toggle);

    public void RestoreState(object state)
    {
        if (state is not SystemControlPortBState s)
        {
            throw new ArgumentException($"Expected {nameof(SystemControlPortBState)}, got {state?.GetType().Name ?? "null"}.", nameof(state));
        }

        _value = (byte)(s.Value & WritableBits);
        _toggle = s.Toggle;
    }

    public void Reset()
    {
        _value = 0;
        _toggle = false;
    }

    internal byte ReadValue()
    {
        _toggle = !_toggle;
        return (byte)(_value | (_toggle ? RefreshToggle | Timer2Output : 0));
    }

    internal void WriteValue(byte value) => _value = (byte)(value & WritableBits);
}
