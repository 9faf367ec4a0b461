using ActorVmm.Actors.Endpoints;
using ActorVmm.Actors.Settings;
using ActorVmm.Actors.Virtio;
using ActorVmm.Devices;
using ActorVmm.Kvm.Memory;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Xunit;

namespace ActorVmm.Actors.Tests.Endpoints;

/// <summary>Queue passes run on the queue's worker without the gate; the endpoint claims, publishes and quiesces them.</summary>
public class QueuePassSpec : TestKit
{
    /// <summary>A device with queues whose passes can be held open (a slow host I/O) and made to throw.</summary>
    private sealed class SlowQueues(int queues) : IBusDevice, IQueueDevice, IStatefulDevice
    {
        private readonly object _sync = new();
        private readonly List<string> _log = [];

        public string Name => "q";

        public int QueueCount => queues;

        public Action<int>? QueueKickHandler { get; set; }

        public ManualResetEventSlim Release { get; } = new(true);

        public ManualResetEventSlim InPass { get; } = new(false);

        public int? ThrowOnQueue { get; set; }

        public bool Quiesced { get; private set; }

        public int Running;

        public IReadOnlyList<string> Log
        {
            get
            {
                lock (_sync)
                {
                    return [.. _log];
                }
            }
        }

        public ulong NotifyRegister(int queue) => 0x3000 + (ulong)queue * 4;

        public bool TryBeginQueuePass(int queue)
        {
            if ((uint)queue >= (uint)queues)
            {
                Add($"bad kick {queue}");
                return false;
            }

            return !Quiesced;
        }

        public QueuePassResult RunQueuePass(int queue)
        {
            Interlocked.Increment(ref Running);
            InPass.Set();
            Release.Wait();
            Interlocked.Decrement(ref Running);
            if (queue == ThrowOnQueue)
            {
                throw new InvalidOperationException("serving failed");
            }

            Add($"pass {queue}");
            return default;
        }

        public void EndQueuePass(int queue, QueuePassResult result)
        {
        }

        public void Quiesce() => Quiesced = true;

        public void Unquiesce() => Quiesced = false;

        public void Read(ulong offset, Span<byte> data) => data.Fill(0x5a);

        public void Write(ulong offset, ReadOnlySpan<byte> data) => Add($"write {offset}");

        public object SaveState()
        {
            // Saving while a pass is inside the device would capture half-served queues.
            Add(Volatile.Read(ref Running) == 0 ? "saved idle" : "saved DURING A PASS");
            return 1;
        }

        public void RestoreState(object state) => Add("restored");

        public void Reset()
        {
        }

        private void Add(string entry)
        {
            lock (_sync)
            {
                _log.Add(entry);
            }
        }
    }

    private DeviceEndpoint Start(Func<IBusDevice> factory, bool inline = true, List<int>? kicks = null)
    {
        var endpoint = new DeviceEndpoint("q", new DeviceSettings(TimeSpan.FromSeconds(30)), Sys.Log, inline);
        if (kicks is not null)
        {
            endpoint.QueueKick = q =>
            {
                lock (kicks)
                {
                    kicks.Add(q);
                }
            };
        }

        endpoint.Bind(Sys.ActorOf(DeviceActor.Props(endpoint, factory)));
        return endpoint;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Register_accesses_should_be_answered_while_a_queue_pass_waits_for_host_IO(bool inline)
    {
        var device = new SlowQueues(1);
        var endpoint = Start(() => device, inline);
        await AwaitConditionAsync(() => Task.FromResult(endpoint.CurrentDevice is not null));
        device.Release.Reset();
        var worker = Task.Run(() => endpoint.ServeQueue(0));
        Assert.True(device.InPass.Wait(TimeSpan.FromSeconds(10)));

        var read = new byte[4];
        var answered = Task.Run(() =>
        {
            endpoint.Read(0x14, read);
            endpoint.Write(0x14, [0]);
        });

        Assert.True(await Task.WhenAny(answered, Task.Delay(TimeSpan.FromSeconds(5))) == answered, "a register access waited for the queue pass");
        Assert.Equal([0x5a, 0x5a, 0x5a, 0x5a], read);
        Assert.Equal(0, endpoint.ReadTimeouts);

        // A posted write returns before the actor runs it: the device must have taken it while the pass still waits.
        await AwaitAssertAsync(() => Assert.Equal(["write 20"], device.Log));
        device.Release.Set();
        await worker;
        await AwaitAssertAsync(() => Assert.Equal(["write 20", "pass 0"], device.Log));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(2)]
    [InlineData(64)]
    [InlineData(int.MaxValue)]
    [InlineData(int.MinValue)]
    public async Task ServeQueue_with_garbage_indices_should_reach_the_device_and_never_throw(int queue)
    {
        var device = new SlowQueues(2);
        var endpoint = Start(() => device);
        await AwaitConditionAsync(() => Task.FromResult(endpoint.CurrentDevice is not null));

        endpoint.ServeQueue(queue);

        Assert.Equal([$"bad kick {queue}"], device.Log);
        Assert.Equal(0, endpoint.Failures);
    }

    [Fact]
    public async Task A_pass_that_throws_should_be_a_device_failure_and_the_restarted_device_should_be_kicked()
    {
        var instances = 0;
        var kicks = new List<int>();
        var endpoint = Start(() => new SlowQueues(2) { ThrowOnQueue = Interlocked.Increment(ref instances) == 1 ? 1 : null }, kicks: kicks);
        await AwaitConditionAsync(() => Task.FromResult(endpoint.CurrentDevice is not null));
        lock (kicks)
        {
            kicks.Clear();
        }

        endpoint.ServeQueue(1);

        await AwaitConditionAsync(() => Task.FromResult(endpoint.Restarts == 1 && endpoint.CurrentDevice is not null));
        Assert.Equal(1, endpoint.Failures);
        Assert.Equal(2, instances);
        await AwaitAssertAsync(() =>
        {
            lock (kicks)
            {
                Assert.Equal([0, 1], kicks.Order());
            }
        });
    }

    [Fact]
    public async Task A_restart_should_save_the_state_only_after_running_passes_of_other_queues_ended()
    {
        SlowQueues? first = null;
        var endpoint = Start(() => first is null ? first = new SlowQueues(2) : new SlowQueues(2));
        await AwaitConditionAsync(() => Task.FromResult(endpoint.CurrentDevice is not null));
        first!.Release.Reset();
        var slow = Task.Run(() => endpoint.ServeQueue(0));
        Assert.True(first.InPass.Wait(TimeSpan.FromSeconds(10)));

        endpoint.Actor!.Tell(new DeviceProtocol.Crashed(new InvalidOperationException("boom")));
        await Task.Delay(300);
        Assert.Empty(first.Log);
        Assert.True(first.Quiesced, "the failed instance should stop starting passes");
        first.Release.Set();
        await slow;

        await AwaitConditionAsync(() => Task.FromResult(endpoint.Restarts == 1 && endpoint.CurrentDevice is not null));
        Assert.Equal(["pass 0", "saved idle"], first.Log);
    }

    [Fact]
    public async Task Stopping_the_workers_should_not_wait_for_a_stuck_host_IO_nor_unmap_guest_ram_under_it()
    {
        var device = new SlowQueues(1);
        var endpoint = Start(() => device);
        await AwaitConditionAsync(() => Task.FromResult(endpoint.CurrentDevice is not null));
        var memory = GuestMemory.Create([(GuestAddress.Zero, 1UL << 20)]);
        var workers = new QueueWorkers(memory);
        var handle = workers.Add("q", 0);
        workers.Start([endpoint]);
        device.Release.Reset();
        workers.Signal(handle);
        Assert.True(device.InPass.Wait(TimeSpan.FromSeconds(10)));

        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        workers.Dispose();
        memory.Dispose();
        stopwatch.Stop();

        Assert.InRange(stopwatch.Elapsed, TimeSpan.Zero, QueueWorkers.StopWait + TimeSpan.FromSeconds(1));
        Assert.Equal(1, workers.Abandoned);
        Assert.False(memory.Unmapped, "guest RAM was unmapped under a worker still inside a pass");
        device.Release.Set();
        await AwaitConditionAsync(() => Task.FromResult(memory.Unmapped), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(20));
    }
}
