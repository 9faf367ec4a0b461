using ActorVmm.Devices.Legacy;
using Xunit;
using static ActorVmm.Devices.Legacy.Cmos;

namespace ActorVmm.Devices.Tests.Legacy;

public sealed class CmosTests
{
    private const ulong MiB = 1024 * 1024;
    private const ulong GiB = 1024 * MiB;

    // A Saturday afternoon.
    private static readonly DateTimeOffset Now = new(2024, 3, 9, 17, 45, 59, TimeSpan.Zero);

    private static Cmos Create(ulong below = 512 * MiB, ulong above = 0, DateTimeOffset? now = null) =>
        new("cmos", below, above, () => now ?? Now);

    private static byte ReadRegister(Cmos cmos, byte index)
    {
        cmos.Out(IndexOffset, index);
        return cmos.In(DataOffset);
    }

    private static void WriteRegister(Cmos cmos, byte index, byte value)
    {
        cmos.Out(IndexOffset, index);
        cmos.Out(DataOffset, value);
    }

    [Fact]
    public void Cmos_should_report_time_in_BCD_by_default()
    {
        var cmos = Create();

        Assert.Equal(0x59, ReadRegister(cmos, RegSeconds));
        Assert.Equal(0x45, ReadRegister(cmos, RegMinutes));
        Assert.Equal(0x17, ReadRegister(cmos, RegHours));
        Assert.Equal(0x07, ReadRegister(cmos, RegWeekday));
        Assert.Equal(0x09, ReadRegister(cmos, RegDayOfMonth));
        Assert.Equal(0x03, ReadRegister(cmos, RegMonth));
        Assert.Equal(0x24, ReadRegister(cmos, RegYear));
        Assert.Equal(0x20, ReadRegister(cmos, RegCentury));
    }

    [Fact]
    public void Cmos_should_report_time_in_binary_when_status_B_says_so()
    {
        var cmos = Create();
        WriteRegister(cmos, RegStatusB, StatusB24Hour | StatusBBinary);

        Assert.Equal(59, ReadRegister(cmos, RegSeconds));
        Assert.Equal(45, ReadRegister(cmos, RegMinutes));
        Assert.Equal(17, ReadRegister(cmos, RegHours));
        Assert.Equal(7, ReadRegister(cmos, RegWeekday));
        Assert.Equal(9, ReadRegister(cmos, RegDayOfMonth));
        Assert.Equal(3, ReadRegister(cmos, RegMonth));
        Assert.Equal(24, ReadRegister(cmos, RegYear));
        Assert.Equal(20, ReadRegister(cmos, RegCentury));
    }

    [Theory]
    [InlineData(17, 0x85)]
    [InlineData(0, 0x12)]
    [InlineData(12, 0x92)]
    [InlineData(9, 0x09)]
    public void Cmos_should_report_12_hour_time_with_the_PM_bit(int hour, byte expected)
    {
        var cmos = Create(now: new DateTimeOffset(2024, 3, 9, hour, 0, 0, TimeSpan.Zero));
        WriteRegister(cmos, RegStatusB, 0);

        Assert.Equal(expected, ReadRegister(cmos, RegHours));
    }

    [Fact]
    public void Cmos_should_read_the_clock_as_UTC_at_each_access()
    {
        var now = new DateTimeOffset(2031, 12, 31, 23, 59, 58, TimeSpan.FromHours(2));
        var cmos = new Cmos("cmos", 0, 0, () => now);

        Assert.Equal(0x21, ReadRegister(cmos, RegHours));
        now = now.AddSeconds(1);
        Assert.Equal(0x59, ReadRegister(cmos, RegSeconds));
    }

    [Fact]
    public void Cmos_should_have_valid_status_registers()
    {
        var cmos = Create();

        Assert.Equal(DefaultStatusA, ReadRegister(cmos, RegStatusA));
        Assert.Equal(StatusB24Hour, ReadRegister(cmos, RegStatusB));
        Assert.Equal(0, ReadRegister(cmos, RegStatusC));
        Assert.Equal(StatusDValid, ReadRegister(cmos, RegStatusD));
        WriteRegister(cmos, RegStatusA, 0xff);
        Assert.Equal(0, ReadRegister(cmos, RegStatusA) & StatusAUpdateInProgress);
        WriteRegister(cmos, RegStatusD, 0);
        Assert.Equal(StatusDValid, ReadRegister(cmos, RegStatusD));
    }

    [Fact]
    public void Cmos_should_drop_writes_to_time_registers()
    {
        var cmos = Create();

        WriteRegister(cmos, RegSeconds, 0x00);
        WriteRegister(cmos, RegYear, 0x99);

        Assert.Equal(0x59, ReadRegister(cmos, RegSeconds));
        Assert.Equal(0x24, ReadRegister(cmos, RegYear));
        Assert.Equal(2, cmos.Stats.UnhandledWrites);
    }

    [Theory]
    // below 4 GiB, above 4 GiB, 0x34/0x35 (64 KiB units above 16 MiB), 0x5b..0x5d (64 KiB units above 4 GiB)
    [InlineData(512 * MiB, 0UL, 0x1f00, 0x000000)]
    [InlineData(3 * GiB, 0UL, 0xbf00, 0x000000)]
    [InlineData(3 * GiB, 3 * GiB, 0xbf00, 0x00c000)]
    [InlineData(4 * GiB, 1024 * GiB, 0xff00, 0xffffff)]
    [InlineData(8 * MiB, 0UL, 0x0000, 0x000000)]
    public void Cmos_should_report_memory_sizes(ulong below, ulong above, int above16MiB, int above4GiB)
    {
        var cmos = Create(below, above);

        Assert.Equal(above16MiB, ReadRegister(cmos, RegMemoryAbove16MiBLow) | (ReadRegister(cmos, RegMemoryAbove16MiBHigh) << 8));
        Assert.Equal(above4GiB, ReadRegister(cmos, RegMemoryAbove4GiBLow)
            | (ReadRegister(cmos, RegMemoryAbove4GiBMiddle) << 8)
            | (ReadRegister(cmos, RegMemoryAbove4GiBHigh) << 16));
        Assert.Equal(640, ReadRegister(cmos, RegBaseMemoryLow) | (ReadRegister(cmos, RegBaseMemoryHigh) << 8));
    }

    [Theory]
    [InlineData(512 * MiB, 0xffff)]
    [InlineData(6 * GiB / 2, 0xffff)]
    [InlineData(33 * MiB, 32 * 1024)]
    [InlineData(512 * 1024UL, 0)]
    public void Cmos_should_report_extended_memory_in_KiB_capped(ulong below, int expectedKiB)
    {
        var cmos = Create(below);

        Assert.Equal(expectedKiB, ReadRegister(cmos, RegExtendedMemoryLow) | (ReadRegister(cmos, RegExtendedMemoryHigh) << 8));
        Assert.Equal(expectedKiB, ReadRegister(cmos, RegExtendedMemoryLowCopy) | (ReadRegister(cmos, RegExtendedMemoryHighCopy) << 8));
    }

    [Fact]
    public void Cmos_should_mask_the_NMI_bit_of_the_index()
    {
        var cmos = Create();

        cmos.Out(IndexOffset, NmiDisableBit | RegStatusD);

        Assert.True(cmos.NmiDisabled);
        Assert.Equal(RegStatusD, cmos.In(IndexOffset));
        Assert.Equal(StatusDValid, cmos.In(DataOffset));
        cmos.Out(IndexOffset, RegStatusB);
        Assert.False(cmos.NmiDisabled);
    }

    [Fact]
    public void Cmos_should_wrap_out_of_range_indices_into_its_128_bytes()
    {
        var cmos = Create();

        WriteRegister(cmos, 0xff, 0x5a);

        Assert.Equal(0x5a, ReadRegister(cmos, 0x7f));
        Assert.Equal(0x5a, ReadRegister(cmos, 0xff));
    }

    [Fact]
    public void Cmos_should_keep_general_purpose_bytes()
    {
        var cmos = Create();

        for (byte i = 0x40; i < 0x50; i++)
        {
            WriteRegister(cmos, i, (byte)(i ^ 0xa5));
        }

        for (byte i = 0x40; i < 0x50; i++)
        {
            Assert.Equal((byte)(i ^ 0xa5), ReadRegister(cmos, i));
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    [InlineData(4)]
    public void Cmos_should_count_wrong_access_sizes_and_read_all_ones(int size)
    {
        var cmos = Create();
        WriteRegister(cmos, 0x40, 0x11);
        var data = new byte[size];

        cmos.Write(DataOffset, new byte[size]);
        cmos.Read(DataOffset, data);

        Assert.All(data, b => Assert.Equal(0xff, b));
        Assert.Equal(2, cmos.Stats.BadSizeAccesses);
        Assert.Equal(0x11, ReadRegister(cmos, 0x40));
    }

    [Theory]
    [InlineData(2UL)]
    [InlineData(0x1000UL)]
    [InlineData(ulong.MaxValue)]
    public void Cmos_should_count_accesses_past_its_range(ulong offset)
    {
        var cmos = Create();

        cmos.Out(offset, 0x12);

        Assert.Equal(0xff, cmos.In(offset));
        Assert.Equal(1, cmos.Stats.UnhandledReads);
        Assert.Equal(1, cmos.Stats.UnhandledWrites);
    }

    [Fact]
    public void Cmos_should_survive_garbage()
    {
        var cmos = Create(3 * GiB, 3 * GiB);
        var random = new Random(146818);
        for (var i = 0; i < 50_000; i++)
        {
            var buffer = new byte[random.Next(0, 4)];
            random.NextBytes(buffer);
            var offset = (ulong)random.Next(0, 4);
            if (random.Next(0, 2) == 0)
            {
                cmos.Write(offset, buffer);
            }
            else
            {
                cmos.Read(offset, buffer);
            }
        }

        var state = Assert.IsType<CmosState>(cmos.SaveState());
        Assert.Equal(Size, state.Data.Length);
        Assert.InRange(state.Index, 0, IndexMask);
        Assert.Equal(StatusDValid, ReadRegister(cmos, RegStatusD));
        Assert.Equal(0, ReadRegister(cmos, RegStatusA) & StatusAUpdateInProgress);
    }

    [Fact]
    public void Cmos_should_keep_its_contents_through_save_and_restore()
    {
        var cmos = Create();
        WriteRegister(cmos, RegStatusB, StatusB24Hour | StatusBBinary);
        WriteRegister(cmos, 0x50, 0x99);
        cmos.Out(IndexOffset, NmiDisableBit | 0x50);
        var saved = cmos.SaveState();

        var restarted = Create();
        restarted.RestoreState(saved);

        Assert.True(restarted.NmiDisabled);
        Assert.Equal(0x99, restarted.In(DataOffset));
        Assert.Equal(59, ReadRegister(restarted, RegSeconds));
        Assert.Throws<ArgumentException>(() => restarted.RestoreState(new CmosState(0, false, [1, 2, 3])));
    }

    [Fact]
    public void Cmos_should_return_to_power_on_contents_on_reset_keeping_memory_sizes()
    {
        var cmos = Create(3 * GiB, 3 * GiB);
        WriteRegister(cmos, RegMemoryAbove4GiBMiddle, 0);
        WriteRegister(cmos, RegStatusB, StatusBBinary);

        cmos.Reset();

        Assert.Equal(0xc0, ReadRegister(cmos, RegMemoryAbove4GiBMiddle));
        Assert.Equal(StatusB24Hour, ReadRegister(cmos, RegStatusB));
    }
}
