using ActorVmm.Actors.Endpoints;
using ActorVmm.Actors.Settings;
using ActorVmm.Devices;
using ActorVmm.Host.Settings;
using ActorVmm.TestSupport.Fakes;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Xunit;

namespace ActorVmm.Actors.Tests.Endpoints;

public class DeviceEndpointSpec : TestKit
{
    private DeviceEndpoint Start(IBusDevice device, bool inline = true, TimeSpan? readTimeout = null)
    {
        var endpoint = new DeviceEndpoint(device.Name, new DeviceSettings(readTimeout ?? TimeSpan.FromSeconds(30)), Sys.Log, inline);
        var actor = Sys.ActorOf(DeviceActor.Props(endpoint, () => device));
        endpoint.Bind(actor);
        return endpoint;
    }

    private static Task OnThread(Action body) =>
        Task.Factory.StartNew(body, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private static byte ReadByte(DeviceEndpoint endpoint, ulong offset)
    {
        Span<byte> data = stackalloc byte[1];
        endpoint.Read(offset, data);
        return data[0];
    }

    [Fact]
    public async Task Posted_writes_and_reads_from_one_vcpu_should_reach_the_device_in_order()
    {
        var device = new RecordingDevice("dev", spinPerAccess: 200);
        var endpoint = Start(device, inline: false);
        var mismatches = 0;

        var vcpu0 = OnThread(() =>
        {
            for (byte i = 1; i < 200; i++)
            {
                endpoint.Write(0, [i]);
                if (ReadByte(endpoint, 0) != i)
                {
                    mismatches++;
                }
            }
        });
        var vcpu1 = OnThread(() =>
        {
            for (byte i = 1; i < 200; i++)
            {
                endpoint.Write(8, [i]);
            }
        });
        await Task.WhenAll(vcpu0, vcpu1);
        var last = ReadByte(endpoint, 8);

        Assert.Equal(0, mismatches);
        Assert.Equal(199, last);
        Assert.False(device.Overlapped);
        Assert.Equal(Enumerable.Range(1, 199).Select(i => (ulong)i), device.Log.Where(e => e is { Op: 'W', Offset: 0 }).Select(e => e.Value));
        Assert.Equal(Enumerable.Range(1, 199).Select(i => (ulong)i), device.Log.Where(e => e is { Op: 'W', Offset: 8 }).Select(e => e.Value));
        Assert.Equal(0, endpoint.InlineAccesses);
    }

    [Fact]
    public async Task Mixed_inline_and_posted_accesses_under_contention_should_keep_each_vcpus_order_and_never_overlap()
    {
        var device = new RecordingDevice("dev", spinPerAccess: 2000);
        var endpoint = Start(device);
        await AwaitConditionAsync(() => Task.FromResult(endpoint.InlineDevice is not null));
        var mismatches = new int[2];

        Task Vcpu(int id) => OnThread(() =>
        {
            var offset = (ulong)(id * 8);
            for (var round = 0; round < 3; round++)
            {
                for (byte i = 1; i < 250; i++)
                {
                    endpoint.Write(offset, [i]);
                    if (i % 3 == 0 && ReadByte(endpoint, offset) != i)
                    {
                        mismatches[id]++;
                    }
                }
            }
        });
        await Task.WhenAll(Vcpu(0), Vcpu(1));

        Assert.Equal([0, 0], mismatches);
        Assert.False(device.Overlapped);
        var expected = Enumerable.Repeat(0, 3).SelectMany(_ => Enumerable.Range(1, 249)).Select(i => (ulong)i).ToList();
        Assert.Equal(expected, device.Log.Where(e => e is { Op: 'W', Offset: 0 }).Select(e => e.Value));
        Assert.Equal(expected, device.Log.Where(e => e is { Op: 'W', Offset: 8 }).Select(e => e.Value));
        Assert.Equal(2 * 3 * (249 + 83), endpoint.InlineAccesses + endpoint.PostedAccesses);
    }

    [Fact]
    public async Task Idle_device_should_be_called_inline_on_the_calling_thread()
    {
        var device = new ConstantDevice("const", 0x5a);
        var endpoint = Start(device);
        await AwaitConditionAsync(() => Task.FromResult(endpoint.InlineDevice is not null));

        Assert.Equal(0x5a, ReadByte(endpoint, 0));
        Assert.Equal(1, endpoint.InlineAccesses);
        Assert.Equal(0, endpoint.PostedAccesses);
    }

    [Fact]
    public async Task A_read_the_device_does_not_answer_in_time_should_read_all_ones_and_be_counted_and_logged()
    {
        var device = new BlockingDevice("stuck0");
        var endpoint = Start(device, inline: false, readTimeout: TimeSpan.FromMilliseconds(200));
        byte value = 0;

        await EventFilter.Warning(contains: "stuck0").ExpectOneAsync(async () =>
            await OnThread(() => value = ReadByte(endpoint, 4)));

        Assert.Equal(0xff, value);
        Assert.Equal(1, endpoint.ReadTimeouts);

        // The late answer must not leak into the next read.
        device.Release();
        Assert.Equal(0x11, ReadByte(endpoint, 4));
    }

    [Fact]
    public async Task A_stopped_device_should_read_all_ones_and_drop_writes_counting_both()
    {
        var device = new RecordingDevice("gone");
        var endpoint = Start(device);
        await AwaitConditionAsync(() => Task.FromResult(endpoint.Actor is not null));
        Watch(endpoint.Actor!);
        Sys.Stop(endpoint.Actor!);
        ExpectTerminated(endpoint.Actor!);

        endpoint.Write(0, [1]);
        Assert.Equal(0xff, ReadByte(endpoint, 0));

        Assert.True(endpoint.IsStopped);
        Assert.Equal(1, endpoint.DeadReads);
        Assert.Equal(1, endpoint.DeadWrites);
        Assert.Empty(device.Log);
    }

    [Fact]
    public void An_endpoint_without_an_actor_should_answer_all_ones()
    {
        var endpoint = new DeviceEndpoint("unbound", DeviceSettings.Default);
        Assert.Equal(0xff, ReadByte(endpoint, 0));
        endpoint.Write(0, [1]);
        Assert.Equal(1, endpoint.DeadReads);
        Assert.Equal(1, endpoint.DeadWrites);
    }
}
