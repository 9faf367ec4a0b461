using System.Buffers.Binary;
using ActorVmm.Devices.Acpi;
using ActorVmm.Devices.Tests.Legacy;
using ActorVmm.Kvm;
using Xunit;
using static ActorVmm.Devices.Acpi.AcpiPmDevice;

namespace ActorVmm.Devices.Tests.Acpi;

/// <summary>PM1a status, enable and control, the SCI, S5 and the power button, as Linux's ACPI core uses them.</summary>
public sealed class AcpiPmDeviceTests
{
    private const ushort S5 = Layout.AcpiS5SleepType << SlpTypShift;

    private readonly RecordingInterruptLine _sci = new();
    private readonly AcpiPmDevice _pm;
    private long _nanoseconds;
    private int _powerOffs;

    public AcpiPmDeviceTests()
    {
        _pm = new AcpiPmDevice("acpi-pm", _sci, () => _powerOffs++, () => _nanoseconds);
    }

    private ushort Read16(ulong offset)
    {
        Span<byte> data = stackalloc byte[2];
        _pm.Read(offset, data);
        return BinaryPrimitives.ReadUInt16LittleEndian(data);
    }

    private void Write16(ulong offset, ushort value)
    {
        Span<byte> data = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(data, value);
        _pm.Write(offset, data);
    }

    [Fact]
    public void Pm_block_should_start_with_nothing_pending_and_SCI_EN_set()
    {
        Assert.Equal(0, Read16(StatusOffset));
        Assert.Equal(0, Read16(EnableOffset));
        Assert.Equal(SciEn, Read16(ControlOffset));
        Assert.Empty(_sci.Levels);
        Assert.Equal(0, _pm.Stats.UnhandledReads);
    }

    [Fact]
    public void Pm_block_should_sit_at_the_ports_the_FADT_names()
    {
        Assert.Equal((ulong)(Layout.AcpiPm1aControlPort - Layout.AcpiPm1aEventPort), ControlOffset);
        Assert.Equal((ulong)(Layout.AcpiPmTimerPort - Layout.AcpiPm1aEventPort), TimerOffset);
        Assert.Equal(TimerOffset + TimerBytes, RangeSize);
    }

    [Fact]
    public void PM1_EN_should_read_back_what_the_guest_wrote()
    {
        Write16(EnableOffset, 0x0521);

        Assert.Equal(0x0521, Read16(EnableOffset));
        Assert.Empty(_sci.Levels);
    }

    [Fact]
    public void PM1_CNT_should_keep_SLP_TYP_read_SLP_EN_as_0_and_SCI_EN_as_1()
    {
        Write16(ControlOffset, 0); // SCI_EN cleared: it stays set

        Assert.Equal(SciEn, Read16(ControlOffset));
        Write16(ControlOffset, 3 << SlpTypShift);
        Assert.Equal((3 << SlpTypShift) | SciEn, Read16(ControlOffset));
        Write16(ControlOffset, (3 << SlpTypShift) | SlpEn);
        Assert.Equal((3 << SlpTypShift) | SciEn, Read16(ControlOffset));
    }

    [Fact]
    public void Power_button_should_set_PWRBTN_STS_and_raise_the_SCI_once_the_guest_enabled_it()
    {
        Write16(EnableOffset, PwrBtnEn);

        Assert.Equal(1, _pm.AcceptInput([HostPowerButton]));

        Assert.Equal(PwrBtnSts, Read16(StatusOffset));
        Assert.Equal([true], _sci.Levels);
        Assert.True(_pm.SciAsserted);
        Assert.Equal(1, _pm.PowerButtonPresses);
    }

    [Fact]
    public void Power_button_should_be_refused_and_change_nothing_while_the_guest_has_not_enabled_it()
    {
        Assert.Equal(0, _pm.AcceptInput([HostPowerButton]));
        Write16(EnableOffset, TmrEn);
        Assert.Equal(0, _pm.AcceptInput([HostPowerButton]));

        Assert.Equal(0, Read16(StatusOffset));
        Assert.Empty(_sci.Levels);
        Assert.Equal(2, _pm.RefusedHostInput);
        Assert.Equal(0, _pm.PowerButtonPresses);
    }

    [Fact]
    public void Host_input_other_than_the_power_button_should_be_ignored_and_counted()
    {
        Write16(EnableOffset, PwrBtnEn);

        Assert.Equal(1, _pm.AcceptInput([0x00, HostPowerButton, 0x02, 0xff]));

        Assert.Equal(3, _pm.IgnoredHostInput);
        Assert.Equal(1, _pm.PowerButtonPresses);
    }

    [Fact]
    public void PM1_STS_should_clear_only_the_bits_written_as_1_and_the_SCI_should_drop_with_them()
    {
        Write16(EnableOffset, PwrBtnEn);
        _pm.AcceptInput([HostPowerButton]);

        Write16(StatusOffset, 0);
        Write16(StatusOffset, TmrSts | WakSts);
        Assert.Equal(PwrBtnSts, Read16(StatusOffset));
        Assert.Equal([true], _sci.Levels);

        Write16(StatusOffset, PwrBtnSts);
        Assert.Equal(0, Read16(StatusOffset));
        Assert.Equal([true, false], _sci.Levels);
        Assert.False(_pm.SciAsserted);
    }

    [Fact]
    public void PM1_STS_should_clear_through_a_byte_write_of_its_high_byte()
    {
        Write16(EnableOffset, PwrBtnEn);
        _pm.AcceptInput([HostPowerButton]);

        _pm.Write(StatusOffset + 1, [PwrBtnSts >> 8]);

        Assert.Equal(0, Read16(StatusOffset));
        Assert.Equal([true, false], _sci.Levels);
    }

    [Fact]
    public void SCI_should_follow_the_enable_bit_while_the_status_stays_set()
    {
        Write16(EnableOffset, PwrBtnEn);
        _pm.AcceptInput([HostPowerButton]);

        Write16(EnableOffset, 0);
        Assert.Equal([true, false], _sci.Levels);
        Write16(EnableOffset, PwrBtnEn);
        Assert.Equal([true, false, true], _sci.Levels);
    }

    [Fact]
    public void A_32_bit_write_over_status_and_enable_should_clear_and_enable_at_once()
    {
        Write16(EnableOffset, PwrBtnEn);
        _pm.AcceptInput([HostPowerButton]);

        _pm.Write(StatusOffset, [0x00, PwrBtnSts >> 8, 0x00, 0x00]);

        Assert.Equal(0, Read16(StatusOffset));
        Assert.Equal(0, Read16(EnableOffset));
        Assert.Equal([true, false], _sci.Levels);
    }

    [Fact]
    public void SLP_EN_with_the_S5_sleep_type_should_power_off_once()
    {
        Write16(ControlOffset, S5 | SlpEn);

        Assert.Equal(1, _powerOffs);
        Assert.Equal(1, _pm.PowerOffRequests);
    }

    [Fact]
    public void SLP_EN_should_power_off_through_a_byte_write_of_PM1_CNT_high_byte()
    {
        _pm.Write(ControlOffset + 1, [(S5 | SlpEn) >> 8]);

        Assert.Equal(1, _powerOffs);
    }

    [Fact]
    public void SLP_TYP_of_S5_without_SLP_EN_should_not_power_off()
    {
        Write16(ControlOffset, S5);

        Assert.Equal(0, _powerOffs);
        Assert.Equal(S5 | SciEn, Read16(ControlOffset));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(6)]
    [InlineData(7)]
    public void SLP_EN_with_another_sleep_type_should_be_counted_and_ignored(int sleepType)
    {
        Write16(ControlOffset, (ushort)((sleepType << SlpTypShift) | SlpEn));

        Assert.Equal(0, _powerOffs);
        Assert.Equal(1, _pm.IgnoredSleepRequests);
    }

    [Fact]
    public void Reserved_bytes_should_read_all_ones_and_the_timer_should_ignore_writes()
    {
        _nanoseconds = 1_000_000_000;

        Assert.Equal(0xffff, Read16(ControlOffset + 2));
        Write16(ControlOffset + 2, 0x1234);
        _pm.Write(TimerOffset, [0, 0, 0, 0]);

        Assert.Equal((uint)TimerHz, ReadTimer());
        Assert.Equal(1, _pm.Stats.UnhandledReads);
        Assert.Equal(2, _pm.Stats.UnhandledWrites);
    }

    private uint ReadTimer()
    {
        Span<byte> data = stackalloc byte[4];
        _pm.Read(TimerOffset, data);
        return BinaryPrimitives.ReadUInt32LittleEndian(data);
    }

    [Fact]
    public void PM_timer_should_count_at_3_579545_MHz_from_its_clock()
    {
        Assert.Equal(0u, ReadTimer());
        _nanoseconds = 1_000_000_000;
        Assert.Equal(3_579_545u, ReadTimer());
        _nanoseconds = 1_000;
        Assert.Equal(3u, ReadTimer()); // 3.58 ticks, truncated
        _nanoseconds = 10_000_000_000;
        Assert.Equal(35_795_450u, ReadTimer());
    }

    [Fact]
    public void PM_timer_should_never_go_back_while_its_clock_goes_on_and_wrap_at_32_bits()
    {
        var last = 0u;
        for (long ns = 0; ns < 5_000_000_000; ns += 279_373)
        {
            _nanoseconds = ns;
            var now = ReadTimer();
            Assert.True(now >= last, $"{now} < {last} at {ns} ns");
            last = now;
        }

        // 2^32 ticks take 1199.9 s: a read just after reads a small count again.
        _nanoseconds = (long)(((1L << 32) + 10) * 1_000_000_000.0 / TimerHz) + 1;
        Assert.InRange(ReadTimer(), 10u, 11u);
    }

    [Fact]
    public void PM_timer_should_set_TMR_STS_when_its_bit_31_changes_and_raise_the_SCI_with_TMR_EN()
    {
        Write16(EnableOffset, TmrEn);
        _nanoseconds = (long)((1L << 31) * 1_000_000_000.0 / TimerHz) - 1_000;
        Assert.Equal(0, Read16(StatusOffset));

        _nanoseconds += 2_000;
        Assert.Equal(TmrSts, Read16(StatusOffset));
        Assert.Equal([true], _sci.Levels);
        Write16(StatusOffset, TmrSts);
        Assert.Equal(0, Read16(StatusOffset));
        Assert.Equal([true, false], _sci.Levels);
    }

    [Fact]
    public void PM_timer_reads_of_2_bytes_should_give_the_low_and_high_halves()
    {
        _nanoseconds = 100_000_000_000; // 357,954,500 ticks = 0x1555_F3C4

        Assert.Equal(0xF3C4, Read16(TimerOffset));
        Assert.Equal(0x1555, Read16(TimerOffset + 2));
    }

    [Fact]
    public void State_should_round_trip_and_drive_the_SCI_on_restore()
    {
        Write16(EnableOffset, PwrBtnEn | TmrEn);
        Write16(ControlOffset, 2 << SlpTypShift);
        _pm.AcceptInput([HostPowerButton]);
        var saved = _pm.SaveState();
        var line = new RecordingInterruptLine();
        var fresh = new AcpiPmDevice("acpi-pm", line, () => { }, () => 0);

        fresh.RestoreState(saved);

        Assert.Equal(saved, fresh.SaveState());
        Assert.Equal([true], line.Levels);
        Assert.True(fresh.SciAsserted);
        Assert.Equal(new AcpiPmState(PwrBtnSts, PwrBtnEn | TmrEn, 2 << SlpTypShift), saved);
    }

    [Fact]
    public void Restore_should_drop_status_and_control_bits_the_device_does_not_keep()
    {
        _pm.RestoreState(new AcpiPmState(0xffff, 0, 0xffff));

        Assert.Equal(new AcpiPmState(StatusBits, 0, ControlStored), _pm.SaveState());
        Assert.Equal([false], _sci.Levels);
        Assert.Equal(0, _powerOffs);
    }

    [Fact]
    public void Restore_should_refuse_another_devices_state()
    {
        Assert.Throws<ArgumentException>(() => _pm.RestoreState(new object()));
    }

    [Fact]
    public void Reset_should_clear_everything_and_lower_the_SCI()
    {
        Write16(EnableOffset, PwrBtnEn);
        _pm.AcceptInput([HostPowerButton]);

        _pm.Reset();

        Assert.Equal(new AcpiPmState(0, 0, 0), _pm.SaveState());
        Assert.Equal([true, false], _sci.Levels);
        Assert.False(_pm.PowerButtonEnabled);
    }

    [Fact]
    public void Every_offset_and_width_should_be_answered_without_throwing_and_bad_ones_counted()
    {
        ulong[] offsets = [.. Enumerable.Range(0, 20).Select(i => (ulong)i), ulong.MaxValue, ulong.MaxValue - 1, 1UL << 63];
        var expectedBadSize = 0;
        var expectedUnhandled = 0;
        foreach (var offset in offsets)
        {
            for (var size = 0; size <= 8; size++)
            {
                var data = new byte[size];
                _pm.Read(offset, data);
                var goodSize = size is 1 or 2 or 4;
                var fits = offset < RangeSize && (ulong)size <= RangeSize - offset;
                if (!goodSize)
                {
                    expectedBadSize++;
                    Assert.All(data, b => Assert.Equal(0xff, b));
                }
                else if (!fits)
                {
                    expectedUnhandled++;
                    Assert.All(data, b => Assert.Equal(0xff, b));
                }

                _pm.Write(offset, new byte[size]);
            }
        }

        Assert.Equal(2 * expectedBadSize, _pm.Stats.BadSizeAccesses);
        Assert.True(_pm.Stats.UnhandledReads >= expectedUnhandled);
        Assert.Equal(0, _powerOffs);
    }

    [Fact]
    public void Random_guest_accesses_should_never_throw_and_power_off_only_on_SLP_EN_with_S5()
    {
        var random = new Random(20);
        var expected = 0;
        for (var i = 0; i < 200_000; i++)
        {
            var offset = (ulong)random.Next(-2, (int)RangeSize + 3);
            var data = new byte[random.Next(0, 6)];
            random.NextBytes(data);
            if (random.Next(4) == 0)
            {
                _pm.Read(offset, data);
                continue;
            }

            // The high byte of PM1a_CNT (offset 5) holds SLP_TYP (bits 2-4) and SLP_EN (bit 5).
            var valid = data.Length is 1 or 2 or 4 && offset < RangeSize && (ulong)data.Length <= RangeSize - offset;
            var high = ControlOffset + 1;
            if (valid && offset <= high && high < offset + (ulong)data.Length)
            {
                var b = data[high - offset];
                if ((b & (SlpEn >> 8)) != 0 && ((b >> 2) & 7) == Layout.AcpiS5SleepType)
                {
                    expected++;
                }
            }

            _pm.Write(offset, data);
            _pm.AcceptInput([(byte)random.Next(3)]);
        }

        Assert.Equal(expected, _powerOffs);
        Assert.True(expected > 0, "the fuzz never hit S5: it checked nothing");
        Assert.Equal(_pm.SciAsserted, (_pm.Status & _pm.Enable & (PwrBtnEn | TmrEn)) != 0);
    }
}
