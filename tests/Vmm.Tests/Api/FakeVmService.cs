using System.Collections.Concurrent;
using System.Text.Json;
using System.Threading.Channels;
using ActorVmm.Host.Serve;

namespace ActorVmm.Vmm.Tests.Api;

/// <summary>
/// An in-memory <see cref="IVmService"/> for the API tests: VMs with a state machine, two devices, faults and a
/// console ring; it records the create bodies, console input and (un)subscriptions. VM id "boom" throws an
/// unexpected exception from <see cref="Get"/>; a create body with a non-number "cpus" is a 400. A snapshot needs
/// a paused VM and is refused (400) into a directory under <see cref="OccupiedDir"/>.
/// </summary>
internal sealed class FakeVmService : IVmService, IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, FakeVm> _vms = new(StringComparer.Ordinal);
    private int _subscriptions;
    private int _faultIds;

    /// <summary>Snapshots into this directory or under it are refused as not empty.</summary>
    public const string OccupiedDir = "/occupied";

    public ConcurrentQueue<(string Id, string Json)> Created { get; } = new();

    public ConcurrentQueue<(string Id, string Dir)> Snapshots { get; } = new();

    public ConcurrentQueue<byte[]> ConsoleInput { get; } = new();

    public int ActiveSubscriptions => Volatile.Read(ref _subscriptions);

    public bool Disposed { get; private set; }

    /// <summary>Completes when a console subscription is disposed.</summary>
    public TaskCompletionSource SubscriptionDisposed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when a console subscription is attached.</summary>
    public TaskCompletionSource SubscriptionAttached { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task<VmInfo> CreateAsync(string id, string json, CancellationToken cancellation = default)
    {
        using var document = JsonDocument.Parse(json);
        if (document.RootElement.TryGetProperty("cpus", out var cpus) && cpus.ValueKind != JsonValueKind.Number)
        {
            throw VmServiceException.BadRequest("cpus must be a number");
        }

        var vm = new FakeVm(id);
        if (!_vms.TryAdd(id, vm))
        {
            throw VmServiceException.Conflict($"VM {id} already exists");
        }

        Created.Enqueue((id, json));
        return Task.FromResult(vm.Info());
    }

    public IReadOnlyList<VmInfo> List() => _vms.Values.OrderBy(v => v.Id, StringComparer.Ordinal).Select(v => v.Info()).ToList();

    public VmInfo Get(string id) => id == "boom" ? throw new InvalidOperationException("the fake blew up\nsecond line") : Vm(id).Info();

    public Task DeleteAsync(string id, CancellationToken cancellation = default)
    {
        var vm = Vm(id);
        _vms.TryRemove(id, out _);
        vm.Console.Writer.TryComplete();
        return Task.CompletedTask;
    }

    public Task<VmInfo> StartAsync(string id, CancellationToken cancellation = default) => Move(id, VmStates.Running, VmStates.Created);

    public Task<VmInfo> PauseAsync(string id, CancellationToken cancellation = default) => Move(id, VmStates.Paused, VmStates.Running);

    public Task<VmInfo> ResumeAsync(string id, CancellationToken cancellation = default) => Move(id, VmStates.Running, VmStates.Paused);

    public Task<SnapshotInfo> SnapshotAsync(string id, string dir, CancellationToken cancellation = default)
    {
        var vm = Vm(id);
        if (vm.State != VmStates.Paused)
        {
            throw VmServiceException.Conflict($"VM {id} is {vm.State}: pause it before a snapshot");
        }

        if (dir == OccupiedDir || dir.StartsWith(OccupiedDir + "/", StringComparison.Ordinal))
        {
            throw VmServiceException.BadRequest($"dir is not empty: {dir}");
        }

        Snapshots.Enqueue((id, dir));
        return Task.FromResult(new SnapshotInfo(id, dir, 41 * 1024 + 100, 256L << 20, 18L << 20, 312.4));
    }

    public TimeSpan? LastStopTimeout { get; private set; }

    public Task<VmInfo> StopAsync(string id, TimeSpan? timeout = null, CancellationToken cancellation = default)
    {
        LastStopTimeout = timeout;
        return Stop(id, "poweroff", 0);
    }

    public Task<VmInfo> KillAsync(string id, CancellationToken cancellation = default) => Stop(id, "host-request", 0);

    public Task<VmInfo> WaitForStopAsync(string id, CancellationToken cancellation = default) => Task.FromResult(Vm(id).Info());

    public IReadOnlyList<DeviceInfo> Devices(string id)
    {
        var vm = Vm(id);
        return [new DeviceInfo("serial0", "serial", "running", 0, 0, 0), new DeviceInfo("disk0", "virtio-blk", "running", vm.Restarts, vm.Restarts, vm.Faults.Values.Sum(f => f.Fired))];
    }

    public FaultInfo AddFault(string id, string spec)
    {
        var vm = Vm(id);
        var colon = spec.IndexOf(':');
        if (colon <= 0)
        {
            throw VmServiceException.BadRequest($"fault must be DEVICE:KIND[,...]: '{spec}'");
        }

        var device = spec[..colon];
        if (device is not ("disk0" or "serial0"))
        {
            throw VmServiceException.NotFound($"VM {id} has no device {device}");
        }

        var fault = new FaultInfo("f" + Interlocked.Increment(ref _faultIds), device, spec, 0);
        vm.Faults[fault.Id] = fault;
        return fault;
    }

    public IReadOnlyList<FaultInfo> Faults(string id) => Vm(id).Faults.Values.OrderBy(f => f.Id, StringComparer.Ordinal).ToList();

    public void RemoveFault(string id, string faultId)
    {
        if (!Vm(id).Faults.TryRemove(faultId, out _))
        {
            throw VmServiceException.NotFound($"VM {id} has no fault {faultId}");
        }
    }

    public Task CrashDeviceAsync(string id, string device, CancellationToken cancellation = default)
    {
        var vm = Vm(id);
        if (device != "disk0")
        {
            throw VmServiceException.NotFound($"VM {id} has no device {device}");
        }

        Interlocked.Increment(ref vm.Restarts);
        return Task.CompletedTask;
    }

    public VmStatsInfo Stats(string id) => new(
        Vm(id).Id,
        42,
        [new ExitRow("io", 40, 1500.5, 1200, 9000, 12000), new ExitRow("hlt", 2, 100, 100, 100, 100)],
        [new ExitRow("serial0", 40, 1500.5, 1200, 9000, 12000)],
        [new DeviceCounters("disk0", 10, 5, 0, 0, 0, 0, 3, 1536)],
        [new InterruptRow("serial0", 4, 7)]);

    public (string File, string? Format)? Trace { get; private set; }

    public Task StartTraceAsync(string id, string file, string? format, CancellationToken cancellation = default)
    {
        if (Vm(id).State is not (VmStates.Running or VmStates.Paused))
        {
            throw VmServiceException.Conflict($"VM {id} is not running");
        }

        Trace = (file, format);
        return Task.CompletedTask;
    }

    public Task StopTraceAsync(string id, CancellationToken cancellation = default)
    {
        Vm(id);
        Trace = null;
        return Task.CompletedTask;
    }

    public byte[] ConsoleTail(string id, int bytes)
    {
        var ring = Vm(id).Ring;
        lock (ring)
        {
            return ring.Skip(Math.Max(0, ring.Count - bytes)).ToArray();
        }
    }

    public ConsoleSubscription AttachConsole(string id, int fromTail = 0)
    {
        var vm = Vm(id);
        var channel = Channel.CreateUnbounded<ReadOnlyMemory<byte>>();
        var tail = ConsoleTail(id, fromTail);
        if (tail.Length > 0)
        {
            channel.Writer.TryWrite(tail);
        }

        vm.Subscribers.TryAdd(channel, 0);
        Interlocked.Increment(ref _subscriptions);
        SubscriptionAttached.TrySetResult();
        return new ConsoleSubscription(channel.Reader, () =>
        {
            vm.Subscribers.TryRemove(channel, out _);
            channel.Writer.TryComplete();
            Interlocked.Decrement(ref _subscriptions);
            SubscriptionDisposed.TrySetResult();
        });
    }

    public int SendConsoleInput(string id, ReadOnlySpan<byte> bytes)
    {
        Vm(id);
        ConsoleInput.Enqueue(bytes.ToArray());
        return bytes.Length;
    }

    /// <summary>The guest writes <paramref name="bytes"/> to its console.</summary>
    public void GuestWrites(string id, byte[] bytes)
    {
        var vm = Vm(id);
        lock (vm.Ring)
        {
            vm.Ring.AddRange(bytes);
        }

        foreach (var subscriber in vm.Subscribers.Keys)
        {
            subscriber.Writer.TryWrite(bytes);
        }
    }

    public IReadOnlyList<VmMetrics> Metrics() => _vms.Values.Select(vm => new VmMetrics(
        vm.Id,
        vm.State,
        new Dictionary<string, long> { ["io"] = 40, ["mmio"] = 2 },
        [new DeviceCounters("disk0", 10, 5, 1, vm.Restarts, vm.Restarts, 3, 7, 3584)])).ToList();

    public ValueTask DisposeAsync()
    {
        Disposed = true;
        foreach (var vm in _vms.Values)
        {
            vm.State = VmStates.Stopped;
            vm.Console.Writer.TryComplete();
            foreach (var subscriber in vm.Subscribers.Keys)
            {
                subscriber.Writer.TryComplete();
            }
        }

        return ValueTask.CompletedTask;
    }

    private FakeVm Vm(string id) => _vms.TryGetValue(id, out var vm) ? vm : throw VmServiceException.NotFound($"no VM {id}");

    private Task<VmInfo> Move(string id, string to, string from)
    {
        var vm = Vm(id);
        lock (vm)
        {
            if (vm.State != from)
            {
                throw VmServiceException.Conflict($"VM {id} is {vm.State}, not {from}");
            }

            vm.State = to;
            return Task.FromResult(vm.Info());
        }
    }

    private Task<VmInfo> Stop(string id, string reason, int code)
    {
        var vm = Vm(id);
        lock (vm)
        {
            if (vm.State is not (VmStates.Running or VmStates.Paused))
            {
                throw VmServiceException.Conflict($"VM {id} is {vm.State}");
            }

            vm.State = VmStates.Stopped;
            vm.Exit = new VmExitInfo(reason, code, "stopped by the test");
        }

        foreach (var subscriber in vm.Subscribers.Keys)
        {
            subscriber.Writer.TryComplete();
        }

        return Task.FromResult(vm.Info());
    }

    private sealed class FakeVm(string id)
    {
        public long Restarts;

        public string Id { get; } = id;

        public string State { get; set; } = VmStates.Created;

        public VmExitInfo? Exit { get; set; }

        public ConcurrentDictionary<string, FaultInfo> Faults { get; } = new(StringComparer.Ordinal);

        public List<byte> Ring { get; } = [];

        public Channel<byte[]> Console { get; } = Channel.CreateUnbounded<byte[]>();

        public ConcurrentDictionary<Channel<ReadOnlyMemory<byte>>, byte> Subscribers { get; } = new();

        public VmInfo Info() => new(Id, State, Exit);
    }
}
