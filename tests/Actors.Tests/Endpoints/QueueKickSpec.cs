using ActorVmm.Actors.Endpoints;
using ActorVmm.Actors.Settings;
using ActorVmm.Devices;
using Akka.TestKit.Xunit2;
using Xunit;

namespace ActorVmm.Actors.Tests.Endpoints;

public class QueueKickSpec : TestKit
{
    /// <summary>A device with queues that records kicks and register writes in one log, and may throw on a kick.</summary>
    private sealed class QueueDevice(int queues, int? throwOnQueue = null) : IBusDevice, IQueueNotifiable
    {
        private readonly List<string> _log = [];

        public string Name => "q";

        public int QueueCount => queues;

        public IReadOnlyList<string> Log
        {
            get
            {
                lock (_log)
                {
                    return [.. _log];
                }
            }
        }

        public ulong NotifyRegister(int queueIndex) => 0x3000 + (ulong)queueIndex * 4;

        public void NotifyQueue(int queueIndex)
        {
            if (queueIndex == throwOnQueue)
            {
                throw new InvalidOperationException("kick failed");
            }

            lock (_log)
            {
                _log.Add((uint)queueIndex < (uint)queues ? $"kick {queueIndex}" : $"bad kick {queueIndex}");
            }
        }

        public void Read(ulong offset, Span<byte> data) => data.Clear();

        public void Write(ulong offset, ReadOnlySpan<byte> data)
        {
            lock (_log)
            {
                _log.Add($"write {offset}");
            }
        }
    }

    private DeviceEndpoint Start(IBusDevice device, bool inline)
    {
        var endpoint = new DeviceEndpoint(device.Name, new DeviceSettings(TimeSpan.FromSeconds(30)), Sys.Log, inline);
        endpoint.Bind(Sys.ActorOf(DeviceActor.Props(endpoint, () => device)));
        return endpoint;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task NotifyQueue_should_reach_the_device_as_a_kick_in_order_with_register_writes(bool inline)
    {
        var device = new QueueDevice(queues: 2);
        var endpoint = Start(device, inline);
        if (inline)
        {
            await AwaitConditionAsync(() => Task.FromResult(endpoint.InlineDevice is not null));
        }

        endpoint.Write(4, [1]);
        endpoint.NotifyQueue(1);
        endpoint.Write(8, [1]);
        endpoint.NotifyQueue(0);

        await AwaitAssertAsync(() => Assert.Equal(["write 4", "kick 1", "write 8", "kick 0"], device.Log));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(2)]
    [InlineData(64)]
    [InlineData(int.MaxValue)]
    [InlineData(int.MinValue)]
    public async Task NotifyQueue_with_garbage_indices_should_reach_the_device_and_never_throw(int queue)
    {
        var device = new QueueDevice(queues: 2);
        var endpoint = Start(device, inline: false);

        endpoint.NotifyQueue(queue);

        await AwaitAssertAsync(() => Assert.Equal([$"bad kick {queue}"], device.Log));
        Assert.Equal(0, endpoint.Failures);
    }

    [Fact]
    public async Task A_kick_that_throws_should_be_a_device_failure_for_supervision()
    {
        var device = new QueueDevice(queues: 1, throwOnQueue: 0);
        var endpoint = Start(device, inline: false);

        endpoint.NotifyQueue(0);

        await AwaitConditionAsync(() => Task.FromResult(endpoint.Failures == 1));
    }
}
