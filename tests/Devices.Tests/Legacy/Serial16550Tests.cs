using ActorVmm.Devices.Legacy;
using Xunit;
using static ActorVmm.Devices.Legacy.Serial16550;

namespace ActorVmm.Devices.Tests.Legacy;

public sealed class Serial16550Tests
{
    private readonly RecordingInterruptLine _irq = new();
    private readonly List<byte> _output = [];
    private readonly Serial16550 _serial;

    public Serial16550Tests()
    {
        _serial = new Serial16550("serial0", _irq, bytes => _output.AddRange(bytes.ToArray()));
    }

    [Fact]
    public void Serial_should_raise_THRE_interrupt_when_enabled()
    {
        _serial.Out(InterruptEnableOffset, IerTransmitterEmpty);

        Assert.Equal(1, _irq.Triggers);
        Assert.Equal(IirTransmitterEmpty, _serial.In(InterruptIdOffset));
        // Reading IIR acknowledged THRE.
        Assert.Equal(IirNoInterrupt, _serial.In(InterruptIdOffset));
    }

    [Fact]
    public void Serial_should_not_interrupt_when_nothing_is_enabled()
    {
        _serial.Out(DataOffset, (byte)'x');
        _serial.EnqueueInput("abc"u8);

        Assert.Equal(0, _irq.Triggers);
        Assert.Equal(IirNoInterrupt, _serial.In(InterruptIdOffset));
    }

    [Fact]
    public void Serial_should_rearm_THRE_after_each_transmitted_byte()
    {
        _serial.Out(InterruptEnableOffset, IerTransmitterEmpty);
        Assert.Equal(IirTransmitterEmpty, _serial.In(InterruptIdOffset));

        _serial.Out(DataOffset, (byte)'a');
        Assert.Equal(2, _irq.Triggers);
        // A second byte while THRE is still pending is not a new edge.
        _serial.Out(DataOffset, (byte)'b');
        Assert.Equal(2, _irq.Triggers);
        Assert.Equal(IirTransmitterEmpty, _serial.In(InterruptIdOffset));
        Assert.Equal("ab"u8.ToArray(), _output);
    }

    [Fact]
    public void Serial_should_pass_the_linux_8250_THRE_reassert_test()
    {
        // serial8250_do_startup: enable THRI, read IIR, disable, enable again, read IIR: both must show THRE,
        // otherwise Linux marks the port UART_BUG_THRE and falls back to a polling timer.
        _serial.Out(InterruptEnableOffset, IerTransmitterEmpty);
        var iir1 = _serial.In(InterruptIdOffset);
        _serial.Out(InterruptEnableOffset, 0);
        _serial.Out(InterruptEnableOffset, IerTransmitterEmpty);
        var iir2 = _serial.In(InterruptIdOffset);

        Assert.Equal(IirTransmitterEmpty, iir1 & 0x0f);
        Assert.Equal(IirTransmitterEmpty, iir2 & 0x0f);
    }

    [Fact]
    public void Serial_should_report_RDA_before_THRE_in_IIR()
    {
        _serial.Out(InterruptEnableOffset, IerReceivedData | IerTransmitterEmpty);
        _serial.EnqueueInput("k"u8);

        Assert.Equal(IirReceivedData, _serial.In(InterruptIdOffset));
        // Reading IIR while it reports RDA does not acknowledge the THRE behind it.
        Assert.Equal(IirReceivedData, _serial.In(InterruptIdOffset));
        Assert.Equal((byte)'k', _serial.In(DataOffset));
        Assert.Equal(IirTransmitterEmpty, _serial.In(InterruptIdOffset));
        Assert.Equal(IirNoInterrupt, _serial.In(InterruptIdOffset));
    }

    [Fact]
    public void Serial_should_raise_RDA_interrupt_when_input_arrives()
    {
        _serial.Out(InterruptEnableOffset, IerReceivedData);
        Assert.Equal(0, _irq.Triggers);

        Assert.Equal(2, _serial.EnqueueInput("hi"u8));

        Assert.Equal(1, _irq.Triggers);
        Assert.Equal(LsrDataReady, _serial.In(LineStatusOffset) & LsrDataReady);
        Assert.Equal((byte)'h', _serial.In(DataOffset));
        Assert.Equal((byte)'i', _serial.In(DataOffset));
        Assert.Equal(0, _serial.In(LineStatusOffset) & LsrDataReady);
        Assert.Equal(IirNoInterrupt, _serial.In(InterruptIdOffset));
    }

    [Fact]
    public void Serial_should_trigger_again_for_new_input_while_RDA_is_pending()
    {
        _serial.Out(InterruptEnableOffset, IerReceivedData);
        _serial.EnqueueInput("a"u8);
        _serial.EnqueueInput("b"u8);

        // An edge lost while the guest had the pin masked must not leave input stuck.
        Assert.Equal(2, _irq.Triggers);
    }

    [Fact]
    public void Serial_should_raise_RDA_when_enabled_with_input_already_waiting()
    {
        _serial.EnqueueInput("z"u8);
        Assert.Equal(0, _irq.Triggers);

        _serial.Out(InterruptEnableOffset, IerReceivedData);

        Assert.Equal(1, _irq.Triggers);
        Assert.Equal(IirReceivedData, _serial.In(InterruptIdOffset));
    }

    [Fact]
    public void Serial_should_set_overrun_when_input_fifo_is_full()
    {
        var input = Enumerable.Range(0, InputFifoCapacity + 6).Select(i => (byte)i).ToArray();

        var accepted = _serial.EnqueueInput(input);

        Assert.Equal(InputFifoCapacity, accepted);
        Assert.Equal(6, _serial.Overruns);
        Assert.Equal(0, _serial.InputFifoFree);
        var lsr = _serial.In(LineStatusOffset);
        Assert.Equal(LsrOverrun | LsrDataReady, lsr & (LsrOverrun | LsrDataReady));
        // OE is cleared by reading LSR; the data is still there.
        Assert.Equal(0, _serial.In(LineStatusOffset) & LsrOverrun);
        for (var i = 0; i < InputFifoCapacity; i++)
        {
            Assert.Equal((byte)i, _serial.In(DataOffset));
        }

        Assert.Equal(0, _serial.In(LineStatusOffset) & LsrDataReady);
    }

    [Fact]
    public void Serial_should_report_overrun_as_line_status_interrupt_first()
    {
        _serial.Out(InterruptEnableOffset, IerReceivedData | IerLineStatus);
        _serial.EnqueueInput(new byte[InputFifoCapacity + 1]);

        Assert.Equal(IirLineStatus, _serial.In(InterruptIdOffset));
        _serial.In(LineStatusOffset);
        Assert.Equal(IirReceivedData, _serial.In(InterruptIdOffset));
    }

    [Fact]
    public void Serial_should_echo_output_to_input_in_loopback()
    {
        _serial.Out(InterruptEnableOffset, IerReceivedData);
        _serial.Out(ModemControlOffset, McrLoopback);

        _serial.Out(DataOffset, 0x5a);

        Assert.Empty(_output);
        Assert.Equal(1, _irq.Triggers);
        Assert.Equal(IirReceivedData, _serial.In(InterruptIdOffset));
        Assert.Equal(0x5a, _serial.In(DataOffset));
        // External input is disconnected in loopback.
        Assert.Equal(0, _serial.EnqueueInput("x"u8));
        Assert.Equal(0, _serial.In(LineStatusOffset) & LsrDataReady);
    }

    [Fact]
    public void Serial_should_map_MCR_outputs_to_MSR_inputs_in_loopback()
    {
        // The check Linux's 8250 autoconfig does: MCR = LOOP | RTS | OUT2 must read MSR & 0xf0 == CTS | DCD.
        _serial.Out(ModemControlOffset, McrLoopback | McrRts | McrOut2);
        Assert.Equal(MsrCts | MsrDcd, _serial.In(ModemStatusOffset) & 0xf0);

        _serial.Out(ModemControlOffset, McrLoopback | McrDtr | McrOut1);
        Assert.Equal(MsrDsr | MsrRi, _serial.In(ModemStatusOffset) & 0xf0);

        _serial.Out(ModemControlOffset, McrOut2);
        Assert.Equal(ExternalModemLines, _serial.In(ModemStatusOffset) & 0xf0);
    }

    [Fact]
    public void Serial_should_flag_modem_line_changes_and_raise_modem_status_interrupt()
    {
        _serial.Out(ModemControlOffset, McrLoopback);
        _serial.In(ModemStatusOffset);
        _serial.Out(InterruptEnableOffset, IerModemStatus);

        _serial.Out(ModemControlOffset, McrLoopback | McrDtr);

        Assert.Equal(1, _irq.Triggers);
        Assert.Equal(IirModemStatus, _serial.In(InterruptIdOffset));
        var msr = _serial.In(ModemStatusOffset);
        Assert.Equal(MsrDsr | MsrDeltaDsr, msr);
        // Deltas clear on read.
        Assert.Equal(MsrDsr, _serial.In(ModemStatusOffset));
        Assert.Equal(IirNoInterrupt, _serial.In(InterruptIdOffset));
    }

    [Fact]
    public void Serial_should_round_trip_the_divisor_latch_behind_DLAB()
    {
        _serial.Out(InterruptEnableOffset, IerReceivedData);
        _serial.Out(LineControlOffset, LcrDivisorLatchAccess | 0x03);
        _serial.Out(DataOffset, 0x01);
        _serial.Out(InterruptEnableOffset, 0x02);

        Assert.Equal(0x01, _serial.In(DataOffset));
        Assert.Equal(0x02, _serial.In(InterruptEnableOffset));
        Assert.Empty(_output);

        _serial.Out(LineControlOffset, 0x03);
        Assert.Equal(IerReceivedData, _serial.In(InterruptEnableOffset));
        _serial.Out(LineControlOffset, LcrDivisorLatchAccess | 0x03);
        Assert.Equal(0x01, _serial.In(DataOffset));
        Assert.Equal(0x02, _serial.In(InterruptEnableOffset));
    }

    [Fact]
    public void Serial_should_keep_the_scratch_register()
    {
        _serial.Out(ScratchOffset, 0xa5);
        Assert.Equal(0xa5, _serial.In(ScratchOffset));
        _serial.Out(ScratchOffset, 0x5a);
        Assert.Equal(0x5a, _serial.In(ScratchOffset));
    }

    [Fact]
    public void Serial_should_send_output_to_the_sink_and_stay_ready_to_transmit()
    {
        foreach (var b in "Linux\n"u8)
        {
            Assert.Equal(LsrTransmitterHoldingEmpty, _serial.In(LineStatusOffset) & LsrTransmitterHoldingEmpty);
            _serial.Out(DataOffset, b);
        }

        var lsr = _serial.In(LineStatusOffset);
        Assert.Equal(LsrTransmitterHoldingEmpty | LsrTransmitterEmpty, lsr);
        Assert.Equal("Linux\n"u8.ToArray(), _output);
        Assert.Equal(6, _serial.BytesOut);
    }

    [Fact]
    public void Serial_should_mask_IER_to_the_16550_interrupts()
    {
        _serial.Out(InterruptEnableOffset, 0xff);
        Assert.Equal(IerValidBits, _serial.In(InterruptEnableOffset));
        _serial.Out(InterruptEnableOffset, 0);
        Assert.Equal(0, _serial.In(InterruptEnableOffset));
    }

    [Fact]
    public void Serial_should_show_FIFO_bits_in_IIR_only_when_FIFOs_are_enabled()
    {
        Assert.Equal(IirNoInterrupt, _serial.In(InterruptIdOffset));

        _serial.Out(FifoControlOffset, FcrEnableFifo);
        Assert.Equal(IirFifoEnabled | IirNoInterrupt, _serial.In(InterruptIdOffset));

        _serial.Out(FifoControlOffset, 0);
        Assert.Equal(IirNoInterrupt, _serial.In(InterruptIdOffset));
    }

    [Fact]
    public void Serial_should_flush_input_when_FCR_clears_the_receive_FIFO()
    {
        _serial.Out(FifoControlOffset, FcrEnableFifo);
        _serial.EnqueueInput("abc"u8);

        _serial.Out(FifoControlOffset, FcrEnableFifo | FcrClearReceive);

        Assert.Equal(0, _serial.In(LineStatusOffset) & LsrDataReady);
        Assert.Equal(InputFifoCapacity, _serial.InputFifoFree);
    }

    [Fact]
    public void Serial_should_read_zero_from_an_empty_receive_buffer()
    {
        Assert.Equal(0, _serial.In(DataOffset));
        Assert.Equal(0, _serial.In(LineStatusOffset) & LsrDataReady);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(8)]
    [InlineData(0)]
    public void Serial_should_count_wrong_access_sizes_and_read_all_ones(int size)
    {
        _serial.Out(ScratchOffset, 0x11);
        var data = new byte[size];

        _serial.Read(ScratchOffset, data);
        _serial.Write(DataOffset, new byte[size]);
        _serial.Write(ScratchOffset, Enumerable.Repeat((byte)0x22, size).ToArray());

        Assert.All(data, b => Assert.Equal(0xff, b));
        Assert.Equal(3, _serial.Stats.BadSizeAccesses);
        Assert.Empty(_output);
        Assert.Equal(0x11, _serial.In(ScratchOffset));
    }

    [Theory]
    [InlineData(8UL)]
    [InlineData(0x100UL)]
    [InlineData(ulong.MaxValue)]
    public void Serial_should_count_accesses_past_its_range_and_read_all_ones(ulong offset)
    {
        _serial.Write(offset, [0x41]);
        var value = _serial.In(offset);

        Assert.Equal(0xff, value);
        Assert.Equal(1, _serial.Stats.UnhandledReads);
        Assert.Equal(1, _serial.Stats.UnhandledWrites);
        Assert.Empty(_output);
    }

    [Fact]
    public void Serial_should_drop_writes_to_the_status_registers()
    {
        _serial.EnqueueInput("q"u8);
        _serial.Out(LineStatusOffset, 0x00);
        _serial.Out(ModemStatusOffset, 0x00);

        Assert.Equal(LsrDataReady, _serial.In(LineStatusOffset) & LsrDataReady);
        Assert.Equal(ExternalModemLines, _serial.In(ModemStatusOffset));
        Assert.Equal(2, _serial.Stats.UnhandledWrites);
    }

    [Fact]
    public void Serial_should_survive_garbage_and_stay_consistent()
    {
        var random = new Random(16550);
        for (var i = 0; i < 50_000; i++)
        {
            var size = random.Next(0, 6);
            var offset = random.Next(0, 3) == 0 ? (ulong)random.NextInt64() : (ulong)random.Next(0, 10);
            var buffer = new byte[size];
            random.NextBytes(buffer);
            switch (random.Next(0, 5))
            {
                case 0:
                case 1:
                    _serial.Write(offset, buffer);
                    break;
                case 2:
                case 3:
                    _serial.Read(offset, buffer);
                    break;
                default:
                    var input = new byte[random.Next(0, 100)];
                    random.NextBytes(input);
                    _serial.EnqueueInput(input);
                    break;
            }

            if (i % 97 == 0)
            {
                AssertConsistent();
            }
        }

        AssertConsistent();
        // Still a working UART: back to normal mode, bytes go out.
        _serial.Out(LineControlOffset, 0x03);
        _serial.Out(ModemControlOffset, McrOut2);
        _output.Clear();
        _serial.Out(DataOffset, (byte)'!');
        Assert.Equal("!"u8.ToArray(), _output);
    }

    private void AssertConsistent()
    {
        var state = Assert.IsType<Serial16550State>(_serial.SaveState());
        Assert.InRange(state.InputFifo.Length, 0, InputFifoCapacity);
        Assert.Equal(0, state.InterruptEnable & ~IerValidBits);
        Assert.Equal(InputFifoCapacity - state.InputFifo.Length, _serial.InputFifoFree);

        var iir = (byte)(_serial.In(InterruptIdOffset) & 0x0f);
        Assert.Contains(iir, new byte[] { IirNoInterrupt, IirModemStatus, IirTransmitterEmpty, IirReceivedData, IirLineStatus });
        var lsr = _serial.In(LineStatusOffset);
        Assert.Equal(LsrTransmitterHoldingEmpty | LsrTransmitterEmpty, lsr & (LsrTransmitterHoldingEmpty | LsrTransmitterEmpty));
        Assert.Equal(state.InputFifo.Length > 0, (lsr & LsrDataReady) != 0);
    }


    [Fact]
    public void Serial_should_keep_its_configuration_through_save_and_restore()
    {
        _serial.Out(LineControlOffset, LcrDivisorLatchAccess);
        _serial.Out(DataOffset, 0x01);
        _serial.Out(InterruptEnableOffset, 0x00);
        _serial.Out(LineControlOffset, 0x1b);
        _serial.Out(InterruptEnableOffset, IerReceivedData | IerLineStatus);
        _serial.Out(ScratchOffset, 0x77);
        _serial.Out(FifoControlOffset, FcrEnableFifo);
        _serial.Out(ModemControlOffset, McrDtr | McrRts | McrOut2);
        _serial.EnqueueInput("ok"u8);
        var saved = _serial.SaveState();

        var restartedIrq = new RecordingInterruptLine();
        var restarted = new Serial16550("serial0", restartedIrq, _ => { });
        restarted.RestoreState(saved);

        Assert.Equal(IerReceivedData | IerLineStatus, restarted.In(InterruptEnableOffset));
        Assert.Equal(0x1b, restarted.In(LineControlOffset));
        Assert.Equal(0x77, restarted.In(ScratchOffset));
        Assert.Equal(McrDtr | McrRts | McrOut2, restarted.In(ModemControlOffset));
        // The pending RDA is signalled again after the restart.
        Assert.Equal(1, restartedIrq.Triggers);
        Assert.Equal(IirFifoEnabled | IirReceivedData, restarted.In(InterruptIdOffset));
        Assert.Equal((byte)'o', restarted.In(DataOffset));
        Assert.Equal((byte)'k', restarted.In(DataOffset));
        restarted.Out(LineControlOffset, 0x1b | LcrDivisorLatchAccess);
        Assert.Equal(0x01, restarted.In(DataOffset));
        Assert.Equal(0x00, restarted.In(InterruptEnableOffset));
        Assert.Equal("ok"u8.ToArray(), ((Serial16550State)saved).InputFifo.ToArray());
    }

    [Fact]
    public void Serial_should_clamp_a_restored_state_it_could_not_have_produced()
    {
        var bogus = new Serial16550State(0xff, 0x03, 0xff, 0, 0, 0, 0xff, 0xff, 0xff, true, [.. new byte[1000]]);

        _serial.RestoreState(bogus);

        var state = Assert.IsType<Serial16550State>(_serial.SaveState());
        Assert.Equal(IerValidBits, state.InterruptEnable);
        Assert.Equal(McrValidBits, state.ModemControl);
        Assert.Equal(InputFifoCapacity, state.InputFifo.Length);
        Assert.Throws<ArgumentException>(() => _serial.RestoreState("not a serial state"));
    }

    [Fact]
    public void Serial_should_return_to_power_on_values_on_reset()
    {
        _serial.Out(InterruptEnableOffset, 0x0f);
        _serial.Out(ScratchOffset, 0x42);
        _serial.Out(LineControlOffset, 0x80);
        _serial.EnqueueInput("zz"u8);

        _serial.Reset();

        Assert.Equal(0, _serial.In(InterruptEnableOffset));
        Assert.Equal(0, _serial.In(ScratchOffset));
        Assert.Equal(DefaultLineControl, _serial.In(LineControlOffset));
        Assert.Equal(DefaultModemControl, _serial.In(ModemControlOffset));
        Assert.Equal(LsrTransmitterHoldingEmpty | LsrTransmitterEmpty, _serial.In(LineStatusOffset));
        Assert.Equal(IirNoInterrupt, _serial.In(InterruptIdOffset));
        _serial.Out(LineControlOffset, LcrDivisorLatchAccess);
        Assert.Equal(DefaultDivisorLow, _serial.In(DataOffset));
        Assert.Equal(DefaultDivisorHigh, _serial.In(InterruptEnableOffset));
    }
}
