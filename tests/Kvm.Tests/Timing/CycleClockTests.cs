using System.Diagnostics;
using System.Runtime.InteropServices;
using ActorVmm.Kvm.Timing;
using Xunit;

namespace ActorVmm.Kvm.Tests.Timing;

public class CycleClockTests
{
    [Fact]
    public void Clock_should_read_the_TSC_on_x86_64_Linux_unless_told_to_use_Stopwatch()
    {
        // Nothing in this test process configures the clock, so it has its default source.
        var expected = RuntimeInformation.ProcessArchitecture == Architecture.X64 && OperatingSystem.IsLinux()
            ? "tsc"
            : "stopwatch";

        Assert.Equal(expected, CycleClock.Source);
    }

    [Fact]
    public void Choosing_another_source_once_the_clock_is_in_use_should_be_refused()
    {
        _ = CycleClock.Now();

        Assert.Throws<InvalidOperationException>(() => CycleClock.Configure(CycleClockSource.Stopwatch));
        CycleClock.Configure(CycleClockSource.Tsc);
        Assert.Equal(RuntimeInformation.ProcessArchitecture == Architecture.X64 ? "tsc" : "stopwatch", CycleClock.Source);
    }

    [Fact]
    public void Now_should_never_go_backwards_on_one_thread()
    {
        var previous = CycleClock.Now();
        for (var i = 0; i < 100_000; i++)
        {
            var now = CycleClock.Now();
            Assert.True(now >= previous, $"read {i}: {now} after {previous}");
            previous = now;
        }
    }

    [Fact]
    public void Converted_ticks_should_agree_with_Stopwatch_over_the_same_interval()
    {
        _ = CycleClock.Frequency;
        var sw0 = Stopwatch.GetTimestamp();
        var c0 = CycleClock.Now();
        Thread.Sleep(200);
        var c1 = CycleClock.Now();
        var sw1 = Stopwatch.GetTimestamp();

        var stopwatchNs = (sw1 - sw0) * 1e9 / Stopwatch.Frequency;
        var clockNs = (double)CycleClock.ToNanoseconds(c1 - c0);

        // The calibration (20 ms) is good to a fraction of a percent; a wrong calibration or a wrong stub misses by far more.
        Assert.InRange(clockNs, stopwatchNs * 0.95, stopwatchNs * 1.05);
        Assert.Equal(1e9 / CycleClock.Frequency, CycleClock.NanosecondsPerTick, 6);
    }

    [Fact]
    public void Read_cost_should_be_measured()
    {
        Assert.InRange(CycleClock.ReadCostNanoseconds, 0.01, 1_000_000);
    }

    [Fact]
    public void Frequency_should_be_that_of_a_real_clock()
    {
        // Between 1 MHz and 10 GHz: Stopwatch on Linux counts nanoseconds; a TSC runs at the CPU's base clock.
        Assert.InRange(CycleClock.Frequency, 1_000_000L, 10_000_000_000L);
    }
}
