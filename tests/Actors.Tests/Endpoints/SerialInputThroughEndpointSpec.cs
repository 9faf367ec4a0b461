using ActorVmm.Actors.Endpoints;
using ActorVmm.Actors.Settings;
using ActorVmm.Devices.Legacy;
using ActorVmm.TestSupport.Fakes;
using Akka.TestKit.Xunit2;
using Xunit;

namespace ActorVmm.Actors.Tests.Endpoints;

/// <summary>The UART has no lock of its own: host input from several threads and the guest's reads meet in its endpoint.</summary>
public class SerialInputThroughEndpointSpec : TestKit
{
    private const ulong DataOffset = 0;
    private const ulong LineStatusOffset = 5;
    private const byte LsrDataReady = 0x01;

    [Fact]
    public async Task Input_from_several_threads_while_the_guest_reads_should_arrive_once_each_or_be_counted_as_overrun()
    {
        const int writers = 4;
        const int perWriter = 5_000;
        var serial = new Serial16550("serial0", new RecordingInterruptLine(), _ => { });
        var endpoint = new DeviceEndpoint("serial0", DeviceSettings.Default, Sys.Log);
        endpoint.Bind(Sys.ActorOf(DeviceActor.Props(endpoint, () => serial)));
        await AwaitConditionAsync(() => Task.FromResult(endpoint.CurrentDevice is not null));
        var accepted = new int[writers];
        var threads = Enumerable.Range(0, writers).Select(w => new Thread(() =>
        {
            for (var i = 0; i < perWriter; i++)
            {
                accepted[w] += endpoint.HostInput([(byte)w]);
            }
        })).ToList();

        threads.ForEach(t => t.Start());
        var received = 0;
        while (threads.Any(t => t.IsAlive))
        {
            received += Drain(endpoint);
        }

        await AwaitConditionAsync(() => Task.FromResult(endpoint.Pending == 0), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(10));
        received += Drain(endpoint);

        Assert.Equal(serial.BytesIn, received);
        Assert.Equal(writers * perWriter, serial.BytesIn + serial.Overruns + endpoint.DroppedInput);
        Assert.True(accepted.Sum() >= serial.BytesIn, "bytes the guest read were never reported as taken");
    }

    private static int Drain(DeviceEndpoint endpoint)
    {
        var count = 0;
        var data = new byte[1];
        while (true)
        {
            endpoint.Read(LineStatusOffset, data);
            if ((data[0] & LsrDataReady) == 0)
            {
                return count;
            }

            endpoint.Read(DataOffset, data);
            count++;
        }
    }
}
