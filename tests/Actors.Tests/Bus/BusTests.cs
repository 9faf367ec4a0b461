using ActorVmm.Actors.Bus;
using ActorVmm.Actors.Endpoints;
using ActorVmm.Actors.Settings;
using ActorVmm.Devices;
using ActorVmm.Host.Settings;
using ActorVmm.TestSupport.Fakes;
using Xunit;
using BusMap = ActorVmm.Actors.Bus.Bus;

namespace ActorVmm.Actors.Tests.Bus;

public class BusTests
{
    private static DeviceEndpoint Endpoint(IBusDevice device)
    {
        // No actor: the device is installed for inline use only (enough to test routing).
        var endpoint = new DeviceEndpoint(device.Name, DeviceSettings.Default);
        endpoint.Install(device);
        return endpoint;
    }

    [Fact]
    public void Bus_should_route_PIO_and_MMIO_accesses_to_the_device_owning_the_range()
    {
        var serial = new RecordingDevice("serial0");
        var rtc = new RecordingDevice("rtc");
        var mmio = new RecordingDevice("virtio0");
        var bus = new BusBuilder()
            .Add(BusRange.Pio(0x3f8, 8), Endpoint(serial))
            .Add(BusRange.Pio(0x70, 2), Endpoint(rtc))
            .Add(BusRange.Mmio(0xd000_0000, 0x1000), Endpoint(mmio))
            .Build();

        bus.Write(BusSpace.Pio, 0x3fb, [0x80]);
        bus.Write(BusSpace.Pio, 0x71, [0x05]);
        bus.Write(BusSpace.Mmio, 0xd000_0ff0, [1, 2, 3, 4]);
        Span<byte> read = stackalloc byte[4];
        bus.Read(BusSpace.Mmio, 0xd000_0ff0, read);

        Assert.Equal([('W', 3UL, 0x80UL)], serial.Log);
        Assert.Equal([('W', 1UL, 0x05UL)], rtc.Log);
        Assert.Equal([('W', 0xff0UL, 0x04030201UL), ('R', 0xff0UL, 0x04030201UL)], mmio.Log);
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, read.ToArray());

        // The same number in the other space belongs to nobody.
        bus.Write(BusSpace.Mmio, 0x3f8, [1]);
        Assert.Single(serial.Log);
        Assert.Equal(1, bus.MmioStats.UnclaimedWrites);
    }

    [Fact]
    public void Bus_should_resolve_first_and_last_address_of_each_range_and_nothing_around_them()
    {
        var a = Endpoint(new RecordingDevice("a"));
        var b = Endpoint(new RecordingDevice("b"));
        var bus = new BusBuilder().Add(BusRange.Pio(0x10, 0x10), a).Add(BusRange.Pio(0x20, 1), b).Build();

        Assert.Null(bus.Resolve(BusSpace.Pio, 0x0f, out _));
        Assert.Same(a, bus.Resolve(BusSpace.Pio, 0x10, out var first));
        Assert.Equal(0UL, first);
        Assert.Same(a, bus.Resolve(BusSpace.Pio, 0x1f, out var last));
        Assert.Equal(0xfUL, last);
        Assert.Same(b, bus.Resolve(BusSpace.Pio, 0x20, out _));
        Assert.Null(bus.Resolve(BusSpace.Pio, 0x21, out _));
    }

    [Fact]
    public void Bus_should_reject_overlapping_ranges_naming_both_devices()
    {
        var builder = new BusBuilder()
            .Add(BusRange.Mmio(0x1000, 0x1000), Endpoint(new RecordingDevice("disk0")))
            .Add(BusRange.Mmio(0x4000, 0x100), Endpoint(new RecordingDevice("net0")))
            .Add(BusRange.Mmio(0x1fff, 0x10), Endpoint(new RecordingDevice("rng0")));

        var error = Assert.Throws<BusConflictException>(() => builder.Build());
        Assert.Contains("disk0", error.Message);
        Assert.Contains("rng0", error.Message);
    }

    [Fact]
    public void Bus_should_reject_empty_wrapping_and_beyond_16_bit_port_ranges()
    {
        var endpoint = Endpoint(new RecordingDevice("bad"));
        Assert.Throws<BusConflictException>(() => new BusBuilder().Add(BusRange.Mmio(0x1000, 0), endpoint));
        Assert.Throws<BusConflictException>(() => new BusBuilder().Add(BusRange.Mmio(ulong.MaxValue - 1, 4), endpoint));
        Assert.Throws<BusConflictException>(() => new BusBuilder().Add(new BusRange(BusSpace.Pio, 0xfff0, 0x20), endpoint));
    }

    [Fact]
    public void Bus_should_answer_unclaimed_reads_with_all_ones_and_count_them_per_space()
    {
        var bus = new BusBuilder().Add(BusRange.Pio(0x60, 1), Endpoint(new ConstantDevice("kbd", 0))).Build();
        Span<byte> data = stackalloc byte[4];

        data.Clear();
        bus.Read(BusSpace.Pio, 0x80, data);
        Assert.Equal(new byte[] { 0xff, 0xff, 0xff, 0xff }, data.ToArray());
        data.Clear();
        bus.Read(BusSpace.Mmio, 0xfee0_0000, data);
        Assert.Equal(new byte[] { 0xff, 0xff, 0xff, 0xff }, data.ToArray());
        bus.Read(BusSpace.Mmio, ulong.MaxValue, data);
        bus.Write(BusSpace.Pio, 0x80, [1]);

        Assert.Equal(1, bus.PioStats.UnclaimedReads);
        Assert.Equal(1, bus.PioStats.UnclaimedWrites);
        Assert.Equal(2, bus.MmioStats.UnclaimedReads);
        Assert.Equal(0, bus.MmioStats.UnclaimedWrites);
    }

    [Fact]
    public void Bus_should_answer_garbage_access_sizes_with_all_ones_and_drop_them_without_reaching_the_device()
    {
        var device = new RecordingDevice("dev");
        var bus = new BusBuilder().Add(BusRange.Mmio(0, ulong.MaxValue), Endpoint(device)).Build();
        var big = new byte[16];

        bus.Read(BusSpace.Mmio, 0x10, big);
        bus.Write(BusSpace.Mmio, 0x10, big);
        bus.Read(BusSpace.Mmio, 0x10, Span<byte>.Empty);

        Assert.All(big, b => Assert.Equal(0xff, b));
        Assert.Empty(device.Log);
        Assert.Equal(3, bus.MmioStats.BadSizeAccesses);
    }

    [Fact]
    public void Bus_with_no_devices_should_count_everything_as_unclaimed()
    {
        var bus = new BusBuilder().Build();
        Span<byte> one = stackalloc byte[1];
        bus.Read(BusSpace.Pio, 0, one);
        bus.Write(BusSpace.Mmio, 0, one);
        Assert.Equal(0xff, one[0]);
        Assert.Equal(1, bus.PioStats.UnclaimedReads);
        Assert.Equal(1, bus.MmioStats.UnclaimedWrites);
        Assert.Empty(((BusMap)bus).Mappings);
    }
}
