using ActorVmm.Devices.Legacy;
using Xunit;
using static ActorVmm.Devices.Legacy.PvPanic;

namespace ActorVmm.Devices.Tests.Legacy;

/// <summary>pvpanic as Linux's driver uses it: read the capabilities, write PANICKED when the kernel panics.</summary>
public sealed class PvPanicTests
{
    private readonly PvPanic _pvpanic;
    private int _panics;

    public PvPanicTests()
    {
        _pvpanic = new PvPanic("pvpanic", () => _panics++);
    }

    [Fact]
    public void PvPanic_should_offer_PANICKED_and_CRASH_LOADED()
    {
        Assert.Equal(0x03, _pvpanic.In(0));
    }

    [Fact]
    public void PvPanic_should_report_a_panic_when_the_guest_writes_PANICKED()
    {
        _pvpanic.Out(0, Panicked);

        Assert.Equal(1, _panics);
        Assert.Equal(1, _pvpanic.Panics);
    }

    [Fact]
    public void PvPanic_should_report_a_panic_once_however_often_the_guest_writes_it()
    {
        for (var i = 0; i < 1000; i++)
        {
            _pvpanic.Out(0, Panicked);
        }

        Assert.Equal(1, _panics);
        Assert.Equal(1000, _pvpanic.Panics);
    }

    [Fact]
    public void PvPanic_should_count_CRASH_LOADED_without_reporting_a_panic()
    {
        _pvpanic.Out(0, CrashLoaded);

        Assert.Equal(0, _panics);
        Assert.Equal(1, _pvpanic.CrashLoadedEvents);
        Assert.Equal(0, _pvpanic.UnknownEvents);
    }

    [Theory]
    [InlineData(0x00)]
    [InlineData(0x04)]
    [InlineData(0x80)]
    [InlineData(0xfc)]
    public void PvPanic_should_count_unknown_events_and_not_report_a_panic(byte value)
    {
        _pvpanic.Out(0, value);

        Assert.Equal(0, _panics);
        Assert.Equal(1, _pvpanic.UnknownEvents);
    }

    [Fact]
    public void PvPanic_should_report_the_panic_of_a_write_with_unknown_bits_too()
    {
        _pvpanic.Out(0, 0xff);

        Assert.Equal(1, _panics);
        Assert.Equal(1, _pvpanic.UnknownEvents);
        Assert.Equal(1, _pvpanic.CrashLoadedEvents);
    }

    [Fact]
    public void PvPanic_should_ignore_other_widths_and_offsets()
    {
        foreach (var size in new[] { 0, 2, 4, 8 })
        {
            var data = new byte[size];
            _pvpanic.Read(0, data);
            Assert.All(data, b => Assert.Equal(0xff, b));
            _pvpanic.Write(0, Enumerable.Repeat((byte)Panicked, size).ToArray());
        }

        _pvpanic.Out(1, Panicked);
        _pvpanic.Out(ulong.MaxValue, Panicked);

        Assert.Equal(0xff, _pvpanic.In(1));
        Assert.Equal(0, _panics);
        Assert.Equal(8, _pvpanic.Stats.BadSizeAccesses);
        Assert.Equal(2, _pvpanic.Stats.UnhandledWrites);
    }
}
