using ActorVmm.Actors.Endpoints;
using ActorVmm.Actors.Settings;
using ActorVmm.Actors.Virtio;
using ActorVmm.Devices;
using ActorVmm.Kvm.Memory;
using Akka.TestKit.Xunit2;
using ActorVmm.Kvm.Linux;
using Xunit;

namespace ActorVmm.Actors.Tests.Virtio;

/// <summary>
/// The VM's queue workers: one epoll notifier for the queues that never block, a thread per queue that blocks on
/// host I/O. Every kick gets a pass, no pass of one queue waits behind another device's host I/O, and stopping is bounded.
/// </summary>
public sealed class QueueWorkersSpec : TestKit
{
    private static readonly TimeSpan Max = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(10);

    /// <summary>
    /// A device whose passes record, per queue, how many kicks the test had asked for when the pass began, how many
    /// passes ran and how many ran at once; a queue's passes can be held open (a slow host I/O).
    /// </summary>
    private sealed class RecordingQueues(string name, int queues) : IBusDevice, IQueueDevice
    {
        public string Name => name;

        public int QueueCount => queues;

        public Action<int>? QueueKickHandler { get; set; }

        public long[] Wanted { get; } = new long[queues];

        public long[] Seen { get; } = new long[queues];

        public int[] Passes { get; } = new int[queues];

        public int[] Running { get; } = new int[queues];

        public int[] MostAtOnce { get; } = new int[queues];

        public ManualResetEventSlim[] Release { get; } = [.. Enumerable.Range(0, queues).Select(_ => new ManualResetEventSlim(true))];

        /// <summary>The CPUs the thread of the latest pass may run on.</summary>
        public CpuSet? PassCpus { get; private set; }

        public ManualResetEventSlim[] InPass { get; } = [.. Enumerable.Range(0, queues).Select(_ => new ManualResetEventSlim(false))];

        public ulong NotifyRegister(int queue) => (ulong)queue * 4;

        public bool TryBeginQueuePass(int queue) => (uint)queue < (uint)queues;

        public QueuePassResult RunQueuePass(int queue)
        {
            var running = Interlocked.Increment(ref Running[queue]);
            InterlockedMax(ref MostAtOnce[queue], running);
            Volatile.Write(ref Seen[queue], Interlocked.Read(ref Wanted[queue]));
            PassCpus = ThreadScheduling.CurrentThreadCpus();
            InPass[queue].Set();
            Release[queue].Wait();
            Interlocked.Increment(ref Passes[queue]);
            Interlocked.Decrement(ref Running[queue]);
            return default;
        }

        public void EndQueuePass(int queue, QueuePassResult result)
        {
        }

        public void Quiesce()
        {
        }

        public void Unquiesce()
        {
        }

        public void Read(ulong offset, Span<byte> data) => data.Clear();

        public void Write(ulong offset, ReadOnlySpan<byte> data)
        {
        }

        private static void InterlockedMax(ref int target, int value)
        {
            int current;
            while ((current = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current)
            {
            }
        }
    }

    private async Task<DeviceEndpoint> StartDevice(RecordingQueues device)
    {
        var endpoint = new DeviceEndpoint(device.Name, new DeviceSettings(TimeSpan.FromSeconds(30)), Sys.Log);
        endpoint.Bind(Sys.ActorOf(DeviceActor.Props(endpoint, () => device)));
        await AwaitConditionAsync(() => Task.FromResult(endpoint.CurrentDevice is not null), Max, Poll);
        return endpoint;
    }

    /// <summary>Records the kick in <paramref name="device"/>'s wanted count, then signals the queue.</summary>
    private static void Kick(QueueWorkers workers, int handle, RecordingQueues device, int queue)
    {
        Interlocked.Increment(ref device.Wanted[queue]);
        workers.Signal(handle);
    }

    [Fact]
    public async Task Pinned_workers_should_serve_their_queues_on_the_given_cpus_only()
    {
        var cpu = ThreadScheduling.AllowedCpus().Cpus[^1];
        var disk = new RecordingQueues("disk0", 1);
        var rng = new RecordingQueues("rng0", 1);
        var endpoints = new[] { await StartDevice(disk), await StartDevice(rng) };
        using var workers = new QueueWorkers { Affinity = CpuSet.Of(cpu) };
        var handles = new[] { workers.Add("disk0", 0, blocksOnHostIo: true), workers.Add("rng0", 0) };

        workers.Start(endpoints);
        Kick(workers, handles[0], disk, 0);
        Kick(workers, handles[1], rng, 0);
        await AwaitConditionAsync(() => Task.FromResult(disk.Passes[0] == 1 && rng.Passes[0] == 1), Max, Poll);

        Assert.Equal(CpuSet.Of(cpu), disk.PassCpus);
        Assert.Equal(CpuSet.Of(cpu), rng.PassCpus);
        Assert.Equal(ThreadScheduling.AllowedCpus(), ThreadScheduling.CurrentThreadCpus());
    }

    [Fact]
    public async Task A_VM_with_a_disk_a_console_and_an_rng_should_run_one_notifier_and_one_thread_for_the_disk()
    {
        var disk = new RecordingQueues("disk0", 1);
        var console = new RecordingQueues("console0", 2);
        var rng = new RecordingQueues("rng0", 1);
        var endpoints = new[] { await StartDevice(disk), await StartDevice(console), await StartDevice(rng) };
        using var workers = new QueueWorkers();
        var handles = new[]
        {
            workers.Add("disk0", 0, blocksOnHostIo: true),
            workers.Add("console0", 0),
            workers.Add("console0", 1),
            workers.Add("rng0", 0),
        };

        workers.Start(endpoints);

        Assert.Equal(4, workers.Count);
        Assert.Equal(2, workers.Threads);
        Kick(workers, handles[0], disk, 0);
        Kick(workers, handles[1], console, 0);
        Kick(workers, handles[2], console, 1);
        Kick(workers, handles[3], rng, 0);
        await AwaitConditionAsync(
            () => Task.FromResult(disk.Passes[0] == 1 && console.Passes[0] == 1 && console.Passes[1] == 1 && rng.Passes[0] == 1), Max, Poll);
    }

    [Fact]
    public async Task A_flood_of_kicks_on_many_queues_at_once_should_serve_every_queue_after_its_last_kick_and_never_twice_at_once()
    {
        const int Devices = 6;
        const int Queues = 8;
        const int KicksPerQueue = 2_000;
        var devices = Enumerable.Range(0, Devices).Select(d => new RecordingQueues($"dev{d}", Queues)).ToList();
        var endpoints = new List<DeviceEndpoint>();
        foreach (var device in devices)
        {
            endpoints.Add(await StartDevice(device));
        }

        using var workers = new QueueWorkers();
        var queues = devices.SelectMany((device, d) => Enumerable.Range(0, Queues)
            .Select(q => (device, q, handle: workers.Add(device.Name, q, blocksOnHostIo: d % 3 == 0)))).ToList();
        workers.Start(endpoints);

        // Four threads kick every queue in turn at once, as vCPUs and host input would.
        var kickers = Enumerable.Range(0, 4).Select(_ => new Thread(() =>
        {
            for (var i = 0; i < KicksPerQueue / 4; i++)
            {
                foreach (var (device, q, handle) in queues)
                {
                    Kick(workers, handle, device, q);
                }
            }
        })).ToList();
        kickers.ForEach(t => t.Start());
        kickers.ForEach(t => t.Join());

        await AwaitConditionAsync(
            () => Task.FromResult(queues.All(x => Volatile.Read(ref x.device.Seen[x.q]) == KicksPerQueue)), Max, Poll);
        Assert.All(queues, x => Assert.Equal(1, x.device.MostAtOnce[x.q]));
        Assert.All(queues, x => Assert.InRange(x.device.Passes[x.q], 1, KicksPerQueue));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_kick_that_lands_during_a_pass_should_run_another_pass_afterwards(bool blocksOnHostIo)
    {
        var device = new RecordingQueues("q", 1);
        var endpoint = await StartDevice(device);
        using var workers = new QueueWorkers();
        var handle = workers.Add("q", 0, blocksOnHostIo);
        workers.Start([endpoint]);
        device.Release[0].Reset();
        Kick(workers, handle, device, 0);
        Assert.True(device.InPass[0].Wait(Max));
        Assert.Equal(1, Volatile.Read(ref device.Seen[0]));

        Kick(workers, handle, device, 0);
        device.Release[0].Set();

        await AwaitConditionAsync(() => Task.FromResult(Volatile.Read(ref device.Seen[0]) == 2 && device.Passes[0] == 2), Max, Poll);
    }

    [Fact]
    public async Task A_pass_blocked_in_host_IO_should_not_stop_passes_of_other_devices_nor_of_another_disk()
    {
        var disk0 = new RecordingQueues("disk0", 1);
        var disk1 = new RecordingQueues("disk1", 1);
        var console = new RecordingQueues("console0", 2);
        var rng = new RecordingQueues("rng0", 1);
        var endpoints = new[] { await StartDevice(disk0), await StartDevice(disk1), await StartDevice(console), await StartDevice(rng) };
        using var workers = new QueueWorkers();
        var d0 = workers.Add("disk0", 0, blocksOnHostIo: true);
        var d1 = workers.Add("disk1", 0, blocksOnHostIo: true);
        var c0 = workers.Add("console0", 0);
        var c1 = workers.Add("console0", 1);
        var r = workers.Add("rng0", 0);
        workers.Start(endpoints);
        disk0.Release[0].Reset();
        Kick(workers, d0, disk0, 0);
        Assert.True(disk0.InPass[0].Wait(Max));

        for (var i = 0; i < 50; i++)
        {
            Kick(workers, d1, disk1, 0);
            Kick(workers, c0, console, 0);
            Kick(workers, c1, console, 1);
            Kick(workers, r, rng, 0);
        }

        await AwaitConditionAsync(
            () => Task.FromResult(disk1.Seen[0] == 50 && console.Seen[0] == 50 && console.Seen[1] == 50 && rng.Seen[0] == 50), Max, Poll);
        Assert.Equal(0, disk0.Passes[0]);
        disk0.Release[0].Set();
        await AwaitConditionAsync(() => Task.FromResult(disk0.Passes[0] == 1), Max, Poll);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Dispose_with_a_stuck_pass_should_return_within_the_bound_report_it_and_keep_guest_ram_mapped(bool blocksOnHostIo)
    {
        var stuck = new RecordingQueues("stuck", 1);
        var other = new RecordingQueues("other", 2);
        var endpoints = new[] { await StartDevice(stuck), await StartDevice(other) };
        var memory = GuestMemory.Create([(GuestAddress.Zero, 1UL << 20)]);
        var workers = new QueueWorkers(memory);
        var handle = workers.Add("stuck", 0, blocksOnHostIo);
        workers.Add("other", 0);
        workers.Add("other", 1, blocksOnHostIo: true);
        var reported = new List<int>();
        workers.AbandonedWorkers += reported.Add;
        workers.Start(endpoints);
        stuck.Release[0].Reset();
        Kick(workers, handle, stuck, 0);
        Assert.True(stuck.InPass[0].Wait(Max));

        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        workers.Dispose();
        memory.Dispose();
        stopwatch.Stop();

        Assert.InRange(stopwatch.Elapsed, TimeSpan.Zero, QueueWorkers.StopWait + TimeSpan.FromSeconds(1));
        Assert.Equal(1, workers.Abandoned);
        Assert.Equal([1], reported);
        Assert.False(memory.Unmapped, "guest RAM was unmapped under a worker still inside a pass");
        stuck.Release[0].Set();
        await AwaitConditionAsync(() => Task.FromResult(memory.Unmapped), Max, Poll);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task No_pass_should_run_after_dispose_and_signals_after_it_should_be_ignored(bool blocksOnHostIo)
    {
        var device = new RecordingQueues("q", 1);
        var endpoint = await StartDevice(device);
        var workers = new QueueWorkers();
        var handle = workers.Add("q", 0, blocksOnHostIo);
        workers.Start([endpoint]);
        Kick(workers, handle, device, 0);
        await AwaitConditionAsync(() => Task.FromResult(device.Passes[0] == 1), Max, Poll);

        workers.Dispose();
        Kick(workers, handle, device, 0);
        endpoint.QueueKick!(0);
        workers.Dispose();

        Assert.Equal(0, workers.Abandoned);
        Assert.Equal(1, device.Passes[0]);
    }

    [Fact]
    public async Task The_endpoint_kick_should_signal_the_queue_of_its_own_device()
    {
        var a = new RecordingQueues("a", 2);
        var b = new RecordingQueues("b", 2);
        var endpoints = new[] { await StartDevice(a), await StartDevice(b) };
        using var workers = new QueueWorkers();
        workers.Add("a", 0);
        workers.Add("b", 1, blocksOnHostIo: true);
        workers.Add("b", 0);
        workers.Add("a", 1, blocksOnHostIo: true);
        workers.Start(endpoints);
        var before = (a.Passes.Sum(), b.Passes.Sum());

        endpoints[1].QueueKick!(1);
        endpoints[0].QueueKick!(0);
        endpoints[0].QueueKick!(7); // no such queue: nothing

        await AwaitConditionAsync(() => Task.FromResult(a.Passes[0] >= 1 && b.Passes[1] >= 1), Max, Poll);
        Assert.Equal(before.Item1 + 1, a.Passes.Sum());
        Assert.Equal(before.Item2 + 1, b.Passes.Sum());
    }

    [Fact]
    public void Start_without_an_endpoint_for_a_queue_should_start_nothing()
    {
        using var workers = new QueueWorkers();
        workers.Add("missing", 0);

        Assert.Throws<ArgumentException>(() => workers.Start([]));
        Assert.Equal(0, workers.Threads);
    }
}
