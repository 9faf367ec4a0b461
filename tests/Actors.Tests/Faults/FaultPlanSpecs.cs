using ActorVmm.Actors.Faults;
using ActorVmm.Actors.Settings;
using ActorVmm.Host.Settings;
using Xunit;

namespace ActorVmm.Actors.Tests.Faults;

public class FaultPlanSpecs
{
    [Theory]
    [InlineData("disk0:crash,every=100", "disk0", FaultKind.Crash, FaultTriggerKind.Every)]
    [InlineData("serial0:drop,p=0.25,seed=42", "serial0", FaultKind.Drop, FaultTriggerKind.Probability)]
    [InlineData("rng0:delay,after=2s,delay=200us", "rng0", FaultKind.Delay, FaultTriggerKind.After)]
    [InlineData("serial0:corrupt,offset=0x5,mask=0x20", "serial0", FaultKind.Corrupt, FaultTriggerKind.Offset)]
    [InlineData("disk1:io-error", "disk1", FaultKind.IoError, FaultTriggerKind.Always)]
    public void A_good_spec_should_parse_and_print_back_to_an_equal_plan(string spec, string device, FaultKind kind, FaultTriggerKind trigger)
    {
        var plan = FaultPlan.Parse(spec);

        Assert.Equal(device, plan.Device);
        Assert.Equal(kind, plan.Kind);
        Assert.Equal(trigger, plan.Trigger.Kind);
        Assert.Equal(plan, FaultPlan.Parse(plan.ToString()));
    }

    [Fact]
    public void Spec_values_should_land_in_the_plan()
    {
        Assert.Equal(100, FaultPlan.Parse("disk0:crash,every=100").Trigger.Every);
        var p = FaultPlan.Parse("serial0:drop,p=0.25,seed=42").Trigger;
        Assert.Equal((0.25, 42UL), (p.Probability, p.Seed));
        var delay = FaultPlan.Parse("rng0:delay,after=2s,delay=200us");
        Assert.Equal((TimeSpan.FromSeconds(2), TimeSpan.FromMicroseconds(200)), (delay.Trigger.After, delay.EffectiveDelay));
        var corrupt = FaultPlan.Parse("serial0:corrupt,offset=0x5,mask=0x20");
        Assert.Equal((5UL, 0x20UL), (corrupt.Trigger.Offset, corrupt.Mask));
        Assert.Equal(1UL, FaultPlan.Parse("x0:drop,p=0.5").Trigger.Seed);
    }

    [Theory]
    [InlineData("disk0", "expected DEVICE:KIND")]
    [InlineData("disk0:explode", "unknown fault kind 'explode'")]
    [InlineData(":crash", "is not a device name")]
    [InlineData("disk0:crash,every=0", "every must be a whole number >= 1")]
    [InlineData("disk0:crash,every=ten", "every must be a whole number >= 1")]
    [InlineData("disk0:crash,p=1.5,seed=1", "p must be a probability")]
    [InlineData("disk0:crash,p=0,seed=1", "p must be a probability")]
    [InlineData("disk0:crash,seed=3", "seed goes with p=P")]
    [InlineData("disk0:crash,every=2,after=1s", "one trigger per fault")]
    [InlineData("disk0:crash,every=2,every=3", "every is given twice")]
    [InlineData("disk0:crash,after=soon", "after must be a duration")]
    [InlineData("disk0:delay,delay=11s", "delay must be a duration from 1us to 10s")]
    [InlineData("disk0:crash,delay=1ms", "delay= applies only to the delay kind")]
    [InlineData("disk0:drop,mask=0x1", "mask= applies only to the corrupt kind")]
    [InlineData("disk0:corrupt,mask=0", "mask must be a non-zero number")]
    [InlineData("disk0:io-error,offset=4", "offset= does not apply")]
    [InlineData("disk0:crash,often=1", "unknown option 'often'")]
    [InlineData("disk0:crash,every", "expected key=value")]
    public void A_bad_spec_should_fail_with_one_line_naming_the_problem(string spec, string expected)
    {
        var e = Assert.Throws<SettingsException>(() => FaultPlan.Parse(spec));

        Assert.Contains(expected, e.Message);
        Assert.StartsWith($"--fault '{spec}': ", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Faults_should_load_from_HOCON_objects_and_strings()
    {
        var settings = SettingsLoader.Parse(
            "actorvmm.faults = [ { device = disk0, kind = crash, every = 100 }, \"serial0:corrupt,offset=5,mask=0x80\", { device = rng0, kind = drop, p = 0.5, seed = 9 } ]",
            "vm.conf");

        Assert.Equal(
            [FaultPlan.Parse("disk0:crash,every=100"), FaultPlan.Parse("serial0:corrupt,offset=5,mask=0x80"), FaultPlan.Parse("rng0:drop,p=0.5,seed=9")],
            settings.Faults);
        Assert.Empty(SettingsLoader.Reference.Faults);
    }

    [Theory]
    [InlineData("actorvmm.faults = [ { device = disk0, kind = crash, every = -1 } ]", "vm.conf: actorvmm.faults[0] entry 0: every must be")]
    [InlineData("actorvmm.faults = [ { kind = crash } ]", "entry 0 needs device and kind")]
    [InlineData("actorvmm.faults = [ \"disk0:boom\" ]", "vm.conf: actorvmm.faults[0] entry 0 'disk0:boom': unknown fault kind")]
    [InlineData("actorvmm.faults = disk0", "actorvmm.faults must be a list")]
    [InlineData("actorvmm.fault = []", "unknown key actorvmm.fault (did you mean actorvmm.faults?)")]
    public void Bad_HOCON_faults_should_fail_with_one_line_naming_the_key(string hocon, string expected)
    {
        var e = Assert.Throws<SettingsException>(() => SettingsLoader.Parse(hocon, "vm.conf"));

        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Repeated_fault_options_should_override_the_VM_file_list()
    {
        var overrides = new[] { new SettingOverride("actorvmm.faults", "[\"disk0:crash,every=3\", \"rng0:drop\"]", "--fault") };

        var settings = SettingsLoader.Parse("actorvmm.faults = [ \"serial0:drop\" ]", "vm.conf", overrides);

        Assert.Equal([FaultPlan.Parse("disk0:crash,every=3"), FaultPlan.Parse("rng0:drop")], settings.Faults);
    }

    [Fact]
    public void A_bad_fault_option_should_be_blamed_on_the_option()
    {
        var overrides = new[] { new SettingOverride("actorvmm.faults", "[\"disk0:crash,every=x\"]", "--fault") };

        var e = Assert.Throws<SettingsException>(() => SettingsLoader.Parse(string.Empty, "vm.conf", overrides));

        Assert.Equal("--fault 'disk0:crash,every=x': every must be a whole number >= 1: x", e.Message);
    }
}
