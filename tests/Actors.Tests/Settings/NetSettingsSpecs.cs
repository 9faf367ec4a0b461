using ActorVmm.Actors.Settings;
using ActorVmm.Devices.Net;
using ActorVmm.Host.Settings;
using Xunit;

namespace ActorVmm.Actors.Tests.Settings;

public class NetSettingsSpecs
{
    private static MacAddress Mac(string text) => MacAddress.TryParse(text, out var mac, out _) ? mac : throw new ArgumentException(text);

    [Fact]
    public void Nets_should_default_to_none()
    {
        Assert.Empty(SettingsLoader.Load().Vm.Nets);
    }

    [Fact]
    public void Nets_should_read_objects_and_the_string_form_in_order()
    {
        var s = SettingsLoader.Parse(
            """
            actorvmm.vm.nets = [
              { tap = tap0, mac = "52:54:00:12:34:56" },
              { switch = lan0, mtu = 9000, pcap = "/tmp/n1.pcap" },
              "switch=lan1,mac=02:00:00:00:00:07"
            ]
            """,
            "vm.conf");

        Assert.Equal(
            new[]
            {
                new NetSettings(NetBackendKind.Tap, "tap0", Mac("52:54:00:12:34:56")),
                new NetSettings(NetBackendKind.Switch, "lan0", null, 9000, "/tmp/n1.pcap"),
                new NetSettings(NetBackendKind.Switch, "lan1", Mac("02:00:00:00:00:07")),
            },
            s.Vm.Nets);
    }

    [Theory]
    [InlineData("tap=tap0", "tap=tap0")]
    [InlineData("switch=lan0,mac=52:54:00:AB:cd:01", "switch=lan0,mac=52:54:00:ab:cd:01")]
    [InlineData("switch=lan0,mtu=1400,pcap=x.pcap", "switch=lan0,mtu=1400,pcap=x.pcap")]
    public void Net_spec_should_round_trip_through_its_string_form(string spec, string shown)
    {
        var net = NetSettings.TryParse(spec, out var error);

        Assert.Null(error);
        Assert.Equal(shown, net!.ToString());
        Assert.Equal(net, NetSettings.TryParse(shown, out _));
    }

    [Theory]
    [InlineData("tap0", "must be tap=NAME or switch=NAME")]
    [InlineData("mac=52:54:00:12:34:56", "must be tap=NAME or switch=NAME")]
    [InlineData("tap=a,switch=b", "give one of tap= and switch=")]
    [InlineData("tap=", "tap needs a name")]
    [InlineData("tap=averyveryverylongname", "longer than 15 characters")]
    [InlineData("switch=lan 0", "must be 1 to 32 letters")]
    [InlineData("switch=lan.0", "must be 1 to 32 letters")]
    [InlineData("tap=tap0,mac=52:54:00:12:34", "is not a MAC address")]
    [InlineData("tap=tap0,mac=zz:54:00:12:34:56", "is not a MAC address")]
    [InlineData("tap=tap0,mac=01:00:5e:00:00:01", "is not a unicast address")]
    [InlineData("tap=tap0,mac=00:00:00:00:00:00", "is not a unicast address")]
    [InlineData("tap=tap0,mtu=67", "mtu must be 68..65535")]
    [InlineData("tap=tap0,mtu=big", "mtu must be 68..65535")]
    [InlineData("tap=tap0,pcap=", "pcap must name a file")]
    [InlineData("tap=tap0,speed=10", "unknown key 'speed'")]
    public void Net_spec_should_refuse_malformed_input_with_one_line(string spec, string expected)
    {
        Assert.Null(NetSettings.TryParse(spec, out var error));
        Assert.Contains(expected, error);
        Assert.DoesNotContain('\n', error!);
    }

    [Theory]
    [InlineData("actorvmm.vm.nets = \"tap=tap0\"", "actorvmm.vm.nets", "must be a list")]
    [InlineData("actorvmm.vm.nets = [ { mac = \"52:54:00:12:34:56\" } ]", "actorvmm.vm.nets[0]", "must be tap=NAME or switch=NAME")]
    [InlineData("actorvmm.vm.nets = [ { tap = t0, colour = red } ]", "actorvmm.vm.nets[0]", "unknown key 'colour'")]
    [InlineData("actorvmm.vm.nets = [ { tap = t0, mac = { a = 1 } } ]", "actorvmm.vm.nets[0]", "mac must be a string")]
    [InlineData("actorvmm.vm.nets = [ \"switch=a,mac=52:54:00:00:00:01\", \"switch=b,mac=52:54:00:00:00:01\" ]", "actorvmm.vm.nets[1]", "is also net0's")]
    [InlineData("actorvmm.vm.nets = [ \"switch=a,pcap=/tmp/x.pcap\", \"switch=b,pcap=/tmp/x.pcap\" ]", "actorvmm.vm.nets[1]", "pcap /tmp/x.pcap is also net0's")]
    public void Nets_should_name_the_entry_that_is_wrong(string hocon, string key, string expected)
    {
        var e = Assert.Throws<SettingsException>(() => SettingsLoader.Parse(hocon, "vm.conf"));

        Assert.Contains(key, e.Message);
        Assert.Contains(expected, e.Message);
    }
}

public class SwitchSettingsSpecs
{
    [Fact]
    public void Switches_should_default_to_none_and_read_uplinks()
    {
        Assert.Empty(SettingsLoader.Load().Switches);

        var s = SettingsLoader.Parse("actorvmm.switches { lan0 { uplink = tap0 }\n lan1 {} }", "serve.conf");

        Assert.Equal([new SwitchSettings("lan0", "tap0"), new SwitchSettings("lan1", null)], s.Switches.OrderBy(w => w.Name));
    }

    [Theory]
    [InlineData("actorvmm.switches { lan0 = tap0 }", "lan0 must be an object")]
    [InlineData("actorvmm.switches { lan0 { uplink = \"a b\" } }", "uplink must name a TAP")]
    [InlineData("actorvmm.switches { lan0 { bridge = br0 } }", "unknown key bridge")]
    [InlineData("actorvmm.switches { \"lan 0\" { } }", "must be 1 to 32 letters")]
    public void Bad_switch_options_should_be_one_line_naming_the_switch(string hocon, string expected)
    {
        var e = Assert.Throws<SettingsException>(() => SettingsLoader.Parse(hocon, "serve.conf"));

        Assert.Contains(expected, e.Message);
        Assert.Contains("actorvmm.switches", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
