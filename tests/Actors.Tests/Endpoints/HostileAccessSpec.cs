using ActorVmm.Actors.Endpoints;
using ActorVmm.Actors.Settings;
using ActorVmm.Devices;
using Akka.TestKit.Xunit2;
using Xunit;

namespace ActorVmm.Actors.Tests.Endpoints;

/// <summary>
/// What a guest can do to an endpoint whose device is busy: flood it with writes (the mailbox stays bounded), give
/// up on reads (they are skipped, not run later), and hold a pause or stop hostage (waits end); host input goes
/// through the same door.
/// </summary>
public class HostileAccessSpec : TestKit
{
    /// <summary>Its first write blocks until released (a device actor stuck on something); counts what it sees.</summary>
    private sealed class StuckDevice : IBusDevice, IHostInput
    {
        private readonly ManualResetEventSlim _release = new(false);
        private int _writes;
        private int _reads;
        private readonly List<string> _log = [];

        public string Name => "stuck0";

        public ManualResetEventSlim Entered { get; } = new(false);

        public int Writes => Volatile.Read(ref _writes);

        public int Reads => Volatile.Read(ref _reads);

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

        public void Release() => _release.Set();

        public void Read(ulong offset, Span<byte> data)
        {
            Interlocked.Increment(ref _reads);
            data.Fill(0x22);
        }

        public void Write(ulong offset, ReadOnlySpan<byte> data)
        {
            if (Interlocked.Increment(ref _writes) == 1)
            {
                Entered.Set();
                _release.Wait(TimeSpan.FromSeconds(30));
            }

            lock (_log)
            {
                _log.Add($"write {data[0]}");
            }
        }

        public int AcceptInput(ReadOnlySpan<byte> input)
        {
            lock (_log)
            {
                _log.Add($"input {(char)input[0]}");
            }

            return input.Length;
        }
    }

    private DeviceEndpoint Start(IBusDevice device, TimeSpan readTimeout, int maxPosted = DeviceSettings.DefaultMaxPosted, bool inline = false)
    {
        var endpoint = new DeviceEndpoint(device.Name, new DeviceSettings(readTimeout, maxPosted), Sys.Log, inline);
        endpoint.Bind(Sys.ActorOf(DeviceActor.Props(endpoint, () => device)));
        return endpoint;
    }

    private static Task OnThread(Action body) =>
        Task.Factory.StartNew(body, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    [Fact]
    public async Task A_flood_of_writes_to_a_busy_device_should_wait_beyond_the_bound_instead_of_growing_the_mailbox()
    {
        var device = new StuckDevice();
        var endpoint = Start(device, TimeSpan.FromSeconds(30), maxPosted: 8);
        var peak = 0;
        var flood = OnThread(() =>
        {
            for (var i = 0; i < 10_000; i++)
            {
                endpoint.Write(0, [1]);
                peak = Math.Max(peak, endpoint.Pending);
            }
        });
        Assert.True(device.Entered.Wait(TimeSpan.FromSeconds(10)));
        await Task.Delay(500);

        Assert.False(flood.IsCompleted, "the flood should be held back while the device is stuck");
        Assert.InRange(endpoint.Pending, 1, 9);
        device.Release();
        await flood;

        await AwaitConditionAsync(() => Task.FromResult(device.Writes == 10_000), TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(20));
        Assert.InRange(peak, 1, 9);
        Assert.True(endpoint.WaitedWrites > 0);
    }

    [Fact]
    public async Task A_read_given_up_on_should_be_skipped_not_run_later()
    {
        var device = new StuckDevice();
        var endpoint = Start(device, TimeSpan.FromMilliseconds(200));
        endpoint.Write(0, [1]);
        Assert.True(device.Entered.Wait(TimeSpan.FromSeconds(10)));
        var value = new byte[1];

        await OnThread(() => endpoint.Read(4, value));
        Assert.Equal(0xff, value[0]);
        Assert.Equal(1, endpoint.ReadTimeouts);
        device.Release();

        await AwaitConditionAsync(() => Task.FromResult(endpoint.SkippedReads == 1), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(20));
        Assert.Equal(0, device.Reads);
    }

    [Fact]
    public async Task A_pausing_or_stopping_vcpu_should_stop_waiting_for_a_posted_read_at_once()
    {
        var device = new StuckDevice();
        var endpoint = Start(device, TimeSpan.FromSeconds(30));
        endpoint.Write(0, [1]);
        Assert.True(device.Entered.Wait(TimeSpan.FromSeconds(10)));
        ReplySlot? slot = null;
        var value = new byte[1];
        var started = new ManualResetEventSlim(false);
        var reader = OnThread(() =>
        {
            slot = ReplySlot.Current;
            started.Set();
            endpoint.Read(4, value);
        });
        Assert.True(started.Wait(TimeSpan.FromSeconds(10)));
        await Task.Delay(200);

        slot!.Interrupt(); // what the vCPU's actor does on Pause and Stop
        var finished = await Task.WhenAny(reader, Task.Delay(TimeSpan.FromSeconds(5))) == reader;

        Assert.True(finished, "the read kept waiting through the pause");
        Assert.Equal(0xff, value[0]);
        Assert.Equal(0, endpoint.ReadTimeouts);
        device.Release();
        await AwaitConditionAsync(() => Task.FromResult(endpoint.SkippedReads == 1), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(20));
    }

    [Fact]
    public async Task Host_input_should_go_through_the_endpoint_in_order_with_the_guests_accesses()
    {
        var device = new StuckDevice();
        var endpoint = Start(device, TimeSpan.FromSeconds(30));
        endpoint.Write(0, [1]);
        Assert.True(device.Entered.Wait(TimeSpan.FromSeconds(10)));

        endpoint.Write(0, [2]);
        Assert.Equal(1, endpoint.HostInput("x"u8));
        endpoint.Write(0, [3]);
        device.Release();

        await AwaitAssertAsync(() => Assert.Equal(["write 1", "write 2", "input x", "write 3"], device.Log));
    }

    [Fact]
    public async Task Host_input_beyond_the_bound_should_be_dropped_and_counted_not_queued()
    {
        var device = new StuckDevice();
        var endpoint = Start(device, TimeSpan.FromSeconds(30), maxPosted: 4);
        endpoint.Write(0, [1]);
        Assert.True(device.Entered.Wait(TimeSpan.FromSeconds(10)));

        var accepted = 0;
        for (var i = 0; i < 100; i++)
        {
            accepted += endpoint.HostInput("k"u8);
        }

        Assert.InRange(accepted, 1, 4);
        Assert.Equal(100 - accepted, endpoint.DroppedInput);
        device.Release();
        await AwaitConditionAsync(() => Task.FromResult(device.Log.Count(l => l == "input k") == accepted), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(20));
    }
}
