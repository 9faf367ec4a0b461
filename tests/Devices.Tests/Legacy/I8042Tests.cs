using ActorVmm.Devices.Legacy;
using Xunit;
using static ActorVmm.Devices.Legacy.I8042;

namespace ActorVmm.Devices.Tests.Legacy;

public sealed class I8042Tests
{
    private readonly RecordingInterruptLine _irq = new();
    private readonly I8042 _i8042;
    private int _resets;

    public I8042Tests()
    {
        _i8042 = new I8042("i8042", () => _resets++, _irq);
    }

    private bool OutputFull => (_i8042.In(StatusOffset) & StatusOutputFull) != 0;

    [Fact]
    public void I8042_should_call_the_reset_hook_exactly_once_for_the_reset_command()
    {
        _i8042.Out(CommandOffset, CmdResetCpu);

        Assert.Equal(1, _resets);
        Assert.Equal(1, _i8042.ResetRequests);
    }

    public static TheoryData<byte> NonResetCommands()
    {
        var data = new TheoryData<byte>();
        for (var c = 0; c < 256; c++)
        {
            var pulsesResetLine = c >= CmdPulseOutputPortFirst && (c & OutputPortResetLine) == 0;
            if (!pulsesResetLine)
            {
                data.Add((byte)c);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(NonResetCommands))]
    public void I8042_should_not_reset_for_other_commands(byte command)
    {
        _i8042.Out(CommandOffset, command);
        // A data byte with the reset line high, in case the command takes one (0xd1 write output port).
        _i8042.Out(DataOffset, 0xdf);
        _i8042.In(DataOffset);
        _i8042.In(StatusOffset);

        Assert.Equal(0, _resets);
    }

    [Fact]
    public void I8042_should_reset_when_the_output_port_is_written_with_the_reset_line_low()
    {
        _i8042.Out(CommandOffset, CmdWriteOutputPort);
        _i8042.Out(DataOffset, 0xde);

        Assert.Equal(1, _resets);
    }

    [Fact]
    public void I8042_should_round_trip_the_output_port()
    {
        _i8042.Out(CommandOffset, CmdReadOutputPort);
        Assert.Equal(DefaultOutputPort, _i8042.In(DataOffset));

        _i8042.Out(CommandOffset, CmdWriteOutputPort);
        Assert.Equal(StatusLastWasCommand, _i8042.In(StatusOffset) & StatusLastWasCommand);
        _i8042.Out(DataOffset, 0xdf);
        _i8042.Out(CommandOffset, CmdReadOutputPort);

        Assert.True(OutputFull);
        Assert.Equal(0xdf, _i8042.In(DataOffset));
        Assert.False(OutputFull);
        Assert.Equal(0, _resets);
    }

    [Fact]
    public void I8042_should_answer_the_self_test_with_0x55()
    {
        Assert.False(OutputFull);

        _i8042.Out(CommandOffset, CmdSelfTest);

        Assert.True(OutputFull);
        Assert.Equal(SelfTestPassed, _i8042.In(DataOffset));
        Assert.False(OutputFull);
        Assert.Equal(StatusSystemFlag, _i8042.In(StatusOffset) & StatusSystemFlag);
    }

    [Fact]
    public void I8042_should_answer_the_keyboard_interface_test_with_0x00()
    {
        _i8042.Out(CommandOffset, CmdKeyboardInterfaceTest);

        Assert.True(OutputFull);
        Assert.Equal(InterfaceTestPassed, _i8042.In(DataOffset));
    }

    [Fact]
    public void I8042_should_round_trip_the_command_byte()
    {
        _i8042.Out(CommandOffset, CmdReadCommandByte);
        Assert.Equal(DefaultCommandByte, _i8042.In(DataOffset));

        _i8042.Out(CommandOffset, CmdWriteCommandByte);
        _i8042.Out(DataOffset, 0x65);
        _i8042.Out(CommandOffset, CmdReadCommandByte);

        Assert.Equal(0x65, _i8042.In(DataOffset));
        Assert.Empty(_irq.Levels);
        Assert.Equal(0, _irq.Triggers);
    }

    [Fact]
    public void I8042_should_disable_and_enable_the_keyboard_in_the_command_byte()
    {
        _i8042.Out(CommandOffset, CmdDisableKeyboard);
        _i8042.Out(CommandOffset, CmdReadCommandByte);
        Assert.Equal(CtrKeyboardDisabled, _i8042.In(DataOffset) & CtrKeyboardDisabled);

        _i8042.Out(CommandOffset, CmdEnableKeyboard);
        _i8042.Out(CommandOffset, CmdReadCommandByte);
        Assert.Equal(0, _i8042.In(DataOffset) & CtrKeyboardDisabled);
    }

    [Fact]
    public void I8042_should_acknowledge_keyboard_commands_and_raise_IRQ1()
    {
        _i8042.Out(DataOffset, 0xf4); // enable scanning

        Assert.Equal(1, _irq.Triggers);
        Assert.True(OutputFull);
        Assert.Equal(KeyboardAck, _i8042.In(DataOffset));
        Assert.False(OutputFull);
        Assert.Equal(StatusKeyboardUnlocked, _i8042.In(StatusOffset) & StatusKeyboardUnlocked);
    }

    [Fact]
    public void I8042_should_answer_keyboard_reset_and_identify()
    {
        _i8042.Out(DataOffset, KbdReset);
        Assert.Equal(KeyboardAck, _i8042.In(DataOffset));
        Assert.Equal(KeyboardSelfTestPassed, _i8042.In(DataOffset));
        Assert.False(OutputFull);

        _i8042.Out(DataOffset, KbdIdentify);
        Assert.Equal(KeyboardAck, _i8042.In(DataOffset));
        Assert.Equal(KbdIdFirst, _i8042.In(DataOffset));
        Assert.Equal(KbdIdSecond, _i8042.In(DataOffset));
        Assert.False(OutputFull);
        Assert.Equal(0, _i8042.In(DataOffset));
    }

    [Fact]
    public void I8042_should_not_raise_IRQ1_when_the_command_byte_disables_it()
    {
        _i8042.Out(CommandOffset, CmdWriteCommandByte);
        _i8042.Out(DataOffset, (byte)(DefaultCommandByte & ~CtrKeyboardInterrupt));

        _i8042.Out(DataOffset, 0xf4);

        Assert.Equal(0, _irq.Triggers);
        Assert.Equal(KeyboardAck, _i8042.In(DataOffset));
    }

    [Fact]
    public void I8042_should_work_without_a_keyboard_interrupt_line()
    {
        var i8042 = new I8042("i8042", () => { });

        i8042.Out(DataOffset, 0xf4);

        Assert.Equal(KeyboardAck, i8042.In(DataOffset));
    }

    [Fact]
    public void I8042_should_answer_port_61_inside_its_window_as_port_B()
    {
        _i8042.Out(PortBOffset, 0xff);

        var first = _i8042.In(PortBOffset);
        var second = _i8042.In(PortBOffset);

        Assert.Equal(SystemControlPortB.WritableBits, first & SystemControlPortB.WritableBits);
        Assert.NotEqual(first & SystemControlPortB.Timer2Output, second & SystemControlPortB.Timer2Output);
    }

    [Theory]
    [InlineData(2UL)]
    [InlineData(3UL)]
    [InlineData(5UL)]
    [InlineData(ulong.MaxValue)]
    public void I8042_should_count_unhandled_offsets_and_read_all_ones(ulong offset)
    {
        _i8042.Out(offset, CmdResetCpu);

        Assert.Equal(0xff, _i8042.In(offset));
        Assert.Equal(1, _i8042.Stats.UnhandledReads);
        Assert.Equal(1, _i8042.Stats.UnhandledWrites);
        Assert.Equal(0, _resets);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    [InlineData(4)]
    public void I8042_should_count_wrong_access_sizes_without_side_effects(int size)
    {
        var data = new byte[size];

        _i8042.Write(CommandOffset, Enumerable.Repeat(CmdResetCpu, size).ToArray());
        _i8042.Read(StatusOffset, data);

        Assert.Equal(0, _resets);
        Assert.All(data, b => Assert.Equal(0xff, b));
        Assert.Equal(2, _i8042.Stats.BadSizeAccesses);
    }

    [Fact]
    public void I8042_should_survive_garbage()
    {
        var random = new Random(8042);
        for (var i = 0; i < 50_000; i++)
        {
            var buffer = new byte[random.Next(0, 4)];
            random.NextBytes(buffer);
            var offset = (ulong)random.Next(0, 7);
            if (random.Next(0, 2) == 0)
            {
                _i8042.Write(offset, buffer);
            }
            else
            {
                _i8042.Read(offset, buffer);
            }

            var state = Assert.IsType<I8042State>(_i8042.SaveState());
            Assert.InRange(state.OutputBuffer.Length, 0, OutputBufferCapacity);
        }

        Assert.Equal(_resets, _i8042.ResetRequests);
        // Still answers.
        _i8042.Out(CommandOffset, CmdSelfTest);
        Assert.Equal(SelfTestPassed, _i8042.In(DataOffset));
    }

    [Fact]
    public void I8042_should_keep_its_state_through_save_and_restore()
    {
        _i8042.Out(CommandOffset, CmdWriteCommandByte);
        _i8042.Out(DataOffset, 0x47);
        _i8042.Out(CommandOffset, CmdWriteOutputPort);
        _i8042.Out(DataOffset, 0xcf);
        _i8042.Out(PortBOffset, 0x03);
        _i8042.Out(DataOffset, KbdIdentify);
        _i8042.In(DataOffset);
        var saved = _i8042.SaveState();

        var restarted = new I8042("i8042", () => { });
        restarted.RestoreState(saved);

        Assert.Equal(KbdIdFirst, restarted.In(DataOffset));
        Assert.Equal(KbdIdSecond, restarted.In(DataOffset));
        restarted.Out(CommandOffset, CmdReadCommandByte);
        Assert.Equal(0x47, restarted.In(DataOffset));
        restarted.Out(CommandOffset, CmdReadOutputPort);
        Assert.Equal(0xcf, restarted.In(DataOffset));
        Assert.Equal(0x03, restarted.In(PortBOffset) & SystemControlPortB.WritableBits);
        Assert.Throws<ArgumentException>(() => restarted.RestoreState(new CmosState(0, false, [])));
    }

    [Fact]
    public void I8042_should_keep_a_pending_command_through_save_and_restore()
    {
        _i8042.Out(CommandOffset, CmdWriteCommandByte);
        var restarted = new I8042("i8042", () => { });
        restarted.RestoreState(_i8042.SaveState());

        restarted.Out(DataOffset, 0x44);
        restarted.Out(CommandOffset, CmdReadCommandByte);

        Assert.Equal(0x44, restarted.In(DataOffset));
    }

    [Fact]
    public void I8042_should_return_to_power_on_values_on_reset()
    {
        _i8042.Out(CommandOffset, CmdWriteCommandByte);
        _i8042.Out(DataOffset, 0x00);
        _i8042.Out(DataOffset, 0xf4);

        _i8042.Reset();

        Assert.False(OutputFull);
        _i8042.Out(CommandOffset, CmdReadCommandByte);
        Assert.Equal(DefaultCommandByte, _i8042.In(DataOffset));
    }
}
