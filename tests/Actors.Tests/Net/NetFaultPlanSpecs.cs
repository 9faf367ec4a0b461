using ActorVmm.Actors.Faults;
using ActorVmm.Actors.Settings;
using ActorVmm.Host.Settings;
using Xunit;

namespace ActorVmm.Actors.Tests.Net;

/// <summary>The NIC fault kinds and keys in the <c>--fault</c> grammar.</summary>
public class NetFaultPlanSpecs
{
    [Theory]
    [InlineData("net0:drop,p=0.3,seed=7", FaultKind.Drop)]
    [InlineData("net0:delay,delay=20ms,jitter=5ms", FaultKind.Delay)]
    [InlineData("net0:corrupt,bits=3", FaultKind.Corrupt)]
    [InlineData("net0:duplicate,every=10", FaultKind.Duplicate)]
    [InlineData("net0:reorder,p=0.1,seed=3", FaultKind.Reorder)]
    [InlineData("net0:rate,rate=10m", FaultKind.Rate)]
    [InlineData("net1:rate,after=2s,rate=1500k", FaultKind.Rate)]
    [InlineData("net0:partition,after=5s", FaultKind.Partition)]
    public void A_NIC_spec_should_parse_and_print_back_to_an_equal_plan(string spec, FaultKind kind)
    {
        var plan = FaultPlan.Parse(spec);

        Assert.Equal(kind, plan.Kind);
        Assert.Equal(spec, plan.ToString());
        Assert.Equal(plan, FaultPlan.Parse(plan.ToString()));
    }

    [Fact]
    public void NIC_keys_should_land_in_the_plan()
    {
        var delay = FaultPlan.Parse("net0:delay,delay=20ms,jitter=500us");
        Assert.Equal((TimeSpan.FromMilliseconds(20), TimeSpan.FromMicroseconds(500)), (delay.EffectiveDelay, delay.Jitter));
        Assert.Equal(3, FaultPlan.Parse("net0:corrupt,bits=3").EffectiveBits);
        Assert.Equal(1, FaultPlan.Parse("net0:corrupt").EffectiveBits);
        Assert.Equal(10_000_000, FaultPlan.Parse("net0:rate,rate=10m").Rate);
        Assert.Equal(2_000_000_000, FaultPlan.Parse("net0:rate,rate=2G").Rate);
        Assert.Equal(64_000, FaultPlan.Parse("net0:rate,rate=64000").Rate);
        Assert.Equal("net0:rate,rate=64k", FaultPlan.Parse("net0:rate,rate=64000").ToString());
    }

    [Theory]
    [InlineData("net0:rate", "rate needs rate=BITS-PER-SECOND")]
    [InlineData("net0:rate,rate=10x", "rate must be bits per second from 1k to 100g")]
    [InlineData("net0:rate,rate=999", "rate must be bits per second from 1k to 100g")]
    [InlineData("net0:rate,rate=101g", "rate must be bits per second from 1k to 100g")]
    [InlineData("net0:rate,rate=", "rate must be bits per second")]
    [InlineData("net0:drop,rate=1m", "rate= applies only to the rate kind")]
    [InlineData("net0:drop,jitter=1ms", "jitter= applies only to the delay kind")]
    [InlineData("net0:delay,jitter=11s", "jitter must be a duration from 1us to 10s")]
    [InlineData("net0:corrupt,bits=0", "bits must be a whole number from 1 to 64")]
    [InlineData("net0:corrupt,bits=65", "bits must be a whole number from 1 to 64")]
    [InlineData("net0:drop,bits=1", "bits= applies only to the corrupt kind")]
    [InlineData("net0:corrupt,bits=2,mask=0x1", "give mask= (a register read) or bits= (a NIC's frames), not both")]
    [InlineData("net0:partition,offset=3", "partition applies to a NIC's frames; offset= does not apply")]
    [InlineData("net0:teleport", "unknown fault kind 'teleport' (crash, delay, drop, corrupt, io-error, duplicate, reorder, rate or partition)")]
    [InlineData("net0:drop,burst=1", "unknown option 'burst'")]
    public void A_bad_NIC_spec_should_fail_with_one_line_naming_the_problem(string spec, string expected)
    {
        var e = Assert.Throws<SettingsException>(() => FaultPlan.Parse(spec));

        Assert.Contains(expected, e.Message);
        Assert.StartsWith($"--fault '{spec}': ", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void NIC_faults_should_load_from_HOCON_objects_with_kebab_keys()
    {
        var settings = SettingsLoader.Parse(
            "actorvmm.faults = [ { device = net0, kind = rate, rate = 10m }, { device = net0, kind = delay, delay = 20ms, jitter = 5ms, p = 0.5, seed = 2 }, \"net1:partition\" ]",
            "vm.conf");

        Assert.Equal(
            [FaultPlan.Parse("net0:rate,rate=10m"), FaultPlan.Parse("net0:delay,p=0.5,seed=2,delay=20ms,jitter=5ms"), FaultPlan.Parse("net1:partition")],
            settings.Faults);
    }
}
