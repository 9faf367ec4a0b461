using ActorVmm.Actors.Settings;
using ActorVmm.Host.Settings;
using Xunit;

namespace ActorVmm.Actors.Tests.Settings;

public class ValueParsersSpecs
{
    [Theory]
    [InlineData("1s", 1000)]
    [InlineData("500ms", 500)]
    [InlineData("2m", 120_000)]
    [InlineData("1.5h", 5_400_000)]
    [InlineData("250", 250)]
    [InlineData("10 seconds", 10_000)]
    [InlineData("100us", 0.1)]
    public void Durations_should_parse_HOCON_units(string text, double ms)
    {
        Assert.True(ValueParsers.TryParseDuration(text, out var d));
        Assert.Equal(ms, d.TotalMilliseconds, 6);
    }

    [Theory]
    [InlineData("banana")]
    [InlineData("-1s")]
    [InlineData("1 fortnight")]
    [InlineData("")]
    [InlineData("1e400s")]
    [InlineData("99999999999999999999d")]
    public void Garbage_durations_should_not_parse(string text)
    {
        Assert.False(ValueParsers.TryParseDuration(text, out _));
    }

    [Theory]
    [InlineData("")]
    [InlineData("M")]
    [InlineData("-1M")]
    [InlineData("1.5G")]
    [InlineData("1X")]
    [InlineData("20000000T")]
    [InlineData("18446744073709551616")]
    public void Garbage_sizes_should_not_parse(string text)
    {
        Assert.False(ValueParsers.TryParseSize(text, out _));
    }

    [Theory]
    [InlineData("1KB", 1000UL)]
    [InlineData("1MB", 1_000_000UL)]
    [InlineData("1K", 1024UL)]
    [InlineData("3 bytes", 3UL)]
    public void Decimal_and_binary_units_should_differ(string text, ulong expected)
    {
        Assert.True(ValueParsers.TryParseSize(text, out var bytes));
        Assert.Equal(expected, bytes);
    }
}
