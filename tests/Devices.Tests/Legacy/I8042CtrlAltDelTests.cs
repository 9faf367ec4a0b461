using ActorVmm.Devices.Legacy;
using Xunit;
using static ActorVmm.Devices.Legacy.I8042;

namespace ActorVmm.Devices.Tests.Legacy;

/// <summary>Ctrl-Alt-Del from the host (the graceful stop), as the guest's keyboard driver reads it.</summary>
public sealed class I8042CtrlAltDelTests
{
    private readonly RecordingInterruptLine _irq = new();
    private readonly I8042 _i8042;

    public I8042CtrlAltDelTests()
    {
        _i8042 = new I8042("i8042", () => { }, _irq);
    }

    private bool OutputFull => (_i8042.In(StatusOffset) & StatusOutputFull) != 0;

    private void WriteCommandByte(byte value)
    {
        _i8042.Out(CommandOffset, CmdWriteCommandByte);
        _i8042.Out(DataOffset, value);
    }

    /// <summary>Reads port 0x60 while the status says a byte is there, as an interrupt handler does.</summary>
    private List<byte> Drain()
    {
        var bytes = new List<byte>();
        while (OutputFull && bytes.Count <= OutputBufferCapacity)
        {
            bytes.Add(_i8042.In(DataOffset));
        }

        return bytes;
    }

    [Fact]
    public void Ctrl_Alt_Del_should_reach_the_guest_as_set_2_make_and_break_codes_with_an_interrupt_per_byte()
    {
        Assert.Equal(1, _i8042.AcceptInput([HostCtrlAltDel]));

        Assert.Equal(1, _irq.Triggers);
        var bytes = new List<byte>();
        while (OutputFull)
        {
            Assert.Equal(bytes.Count + 1, _irq.Triggers);
            bytes.Add(_i8042.In(DataOffset));
        }

        Assert.Equal([0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14], bytes);
        Assert.Equal(bytes.Count, _irq.Triggers);
        Assert.Equal(1, _i8042.CtrlAltDelPresses);
    }

    [Fact]
    public void Ctrl_Alt_Del_should_be_translated_to_set_1_when_the_command_byte_asks_for_translation()
    {
        WriteCommandByte(DefaultCommandByte | CtrTranslate);

        _i8042.AcceptInput([HostCtrlAltDel]);

        Assert.Equal([0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d], Drain());
        Assert.Equal(8, _irq.Triggers);
    }

    [Fact]
    public void Ctrl_Alt_Del_should_be_buffered_without_interrupts_when_the_command_byte_disables_them()
    {
        WriteCommandByte(CtrSystemFlag);

        Assert.Equal(1, _i8042.AcceptInput([HostCtrlAltDel]));

        Assert.Equal(CtrlAltDelSet2.ToArray(), Drain());
        Assert.Equal(0, _irq.Triggers);
    }

    [Fact]
    public void Ctrl_Alt_Del_should_be_refused_while_the_keyboard_interface_is_disabled()
    {
        _i8042.Out(CommandOffset, CmdDisableKeyboard);

        Assert.Equal(0, _i8042.AcceptInput([HostCtrlAltDel]));

        Assert.False(OutputFull);
        Assert.Equal(0, _irq.Triggers);
        Assert.Equal(1, _i8042.RefusedHostInput);
        _i8042.Out(CommandOffset, CmdEnableKeyboard);
        Assert.Equal(1, _i8042.AcceptInput([HostCtrlAltDel]));
    }

    [Fact]
    public void A_sequence_that_does_not_fit_the_output_buffer_should_be_refused_whole_and_counted()
    {
        Assert.Equal(1, _i8042.AcceptInput([HostCtrlAltDel, HostCtrlAltDel]));

        Assert.Equal(1, _i8042.RefusedHostInput);
        Assert.Equal(CtrlAltDelSet2.ToArray(), Drain());
        Assert.Equal(1, _i8042.AcceptInput([HostCtrlAltDel]));
    }

    [Fact]
    public void Host_bytes_that_are_not_a_request_should_be_ignored_and_counted()
    {
        Assert.Equal(0, _i8042.AcceptInput("\x03garbage\r\n"u8));

        Assert.False(OutputFull);
        Assert.Equal(0, _irq.Triggers);
        Assert.Equal(10, _i8042.IgnoredHostInput);
        Assert.Equal(0, _i8042.CtrlAltDelPresses);
    }

    [Fact]
    public void A_keyboard_reply_queued_before_should_be_read_first_and_the_interrupts_chain_on()
    {
        _i8042.Out(DataOffset, KbdIdentify);
        Assert.Equal(1, _irq.Triggers);

        _i8042.AcceptInput([HostCtrlAltDel]);

        Assert.Equal(1, _irq.Triggers);
        Assert.Equal([KeyboardAck, KbdIdFirst, KbdIdSecond, .. CtrlAltDelSet2.ToArray()], Drain());
        Assert.Equal(14, _irq.Triggers);
    }

    [Fact]
    public void Pending_Ctrl_Alt_Del_bytes_should_survive_save_and_restore()
    {
        _i8042.AcceptInput([HostCtrlAltDel]);
        _i8042.In(DataOffset);
        var restarted = new I8042("i8042", () => { });

        restarted.RestoreState(_i8042.SaveState());

        Assert.Equal(CtrlAltDelSet2[1..].ToArray(), Drain(restarted));
    }

    private static List<byte> Drain(I8042 device)
    {
        var bytes = new List<byte>();
        while ((device.In(StatusOffset) & StatusOutputFull) != 0 && bytes.Count <= OutputBufferCapacity)
        {
            bytes.Add(device.In(DataOffset));
        }

        return bytes;
    }
}
