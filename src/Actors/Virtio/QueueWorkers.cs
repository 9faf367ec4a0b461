using ActorVmm.Actors.Endpoints;
using ActorVmm.Kvm;
using ActorVmm.Kvm.Memory;

namespace ActorVmm.Actors.Virtio;

/// <summary>
/// The queue workers of one VM: one thread per virtqueue (<c>queue-DEVICE-qN</c>, blocked in poll, no CPU while
/// idle) that serves its queue off the register path. Each queue's eventfd is a KVM ioeventfd on its notify register
/// for writes of any width, so a guest kick completes inside KVM without an exit to us; notify writes that do exit
/// (and device-initiated work: console input, a rate limiter refill) signal the same eventfd. On a signal the worker
/// runs <see cref="DeviceEndpoint.ServeQueue"/>: claim, serve and complete requests without the device's gate, so
/// register accesses never wait for a request's I/O.
/// <para>
/// Guest RAM: a worker holds a lease on it (<see cref="GuestMemory.TryLease"/>) for each pass, so the RAM stays
/// mapped until the last pass ends even when the VM is disposed meanwhile. <see cref="Dispose"/> quiesces and waits
/// for the workers briefly; one stuck in a host I/O is left to finish (counted, logged) and unmaps the RAM when it does.
/// </para>
/// </summary>
public sealed class QueueWorkers : IDisposable
{
    /// <summary>How long <see cref="Dispose"/> waits for all workers together.</summary>
    public static readonly TimeSpan StopWait = TimeSpan.FromSeconds(2);

    private readonly List<Entry> _entries = [];
    private readonly Lock _sync = new();
    private readonly GuestMemory? _memory;
    private volatile bool _disposed;
    private bool _started;
    private long _kicks;
    private int _abandoned;

    /// <param name="memory">The guest RAM the queues live in; each pass holds a lease on it (null: no lease, for tests).</param>
    public QueueWorkers(GuestMemory? memory = null)
    {
        _memory = memory;
    }

    /// <summary>Kicks the workers took so far (all queues; several signals may make one kick).</summary>
    public long Kicks => Interlocked.Read(ref _kicks);

    /// <summary>Number of queues served.</summary>
    public int Count => _entries.Count;

    /// <summary>Workers still inside a pass when <see cref="Dispose"/> gave up waiting (their RAM lease keeps it mapped).</summary>
    public int Abandoned => Volatile.Read(ref _abandoned);

    /// <summary>Raised by <see cref="Dispose"/> with the number of workers it left inside a host I/O (logged by the host).</summary>
    public event Action<int>? AbandonedWorkers;

    /// <summary>
    /// Adds queue <paramref name="queue"/> of device <paramref name="device"/> whose notify register is at guest
    /// address <paramref name="address"/>; registers its eventfd as an ioeventfd there for writes of any width (the
    /// driver may use 1, 2, 4 or 8 bytes). Returns a handle to signal it.
    /// </summary>
    internal int Add(KvmVm vm, string device, int queue, ulong address)
    {
        var fd = EventFd.Create();
        try
        {
            vm.RegisterIoeventfd(fd, address, 0, pio: false);
        }
        catch
        {
            fd.Dispose();
            throw;
        }

        _entries.Add(new Entry(device, queue, fd));
        return _entries.Count - 1;
    }

    /// <summary>Adds a queue with no ioeventfd (tests; kicks come through <see cref="Signal"/>).</summary>
    internal int Add(string device, int queue)
    {
        _entries.Add(new Entry(device, queue, EventFd.Create()));
        return _entries.Count - 1;
    }

    /// <summary>Asks for a pass of a queue as if the guest had kicked (safe from any thread, never blocks).</summary>
    public void Signal(int handle)
    {
        if (_disposed || (uint)handle >= (uint)_entries.Count)
        {
            return;
        }

        try
        {
            _entries[handle].Fd.Write(1);
        }
        catch (ObjectDisposedException)
        {
            // The VM is going away.
        }
    }

    /// <summary>
    /// Starts the workers; each serves the endpoint of its device's name in <paramref name="endpoints"/>, whose
    /// <see cref="DeviceEndpoint.QueueKick"/> it sets. Once only.
    /// </summary>
    public void Start(IReadOnlyList<DeviceEndpoint> endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        lock (_sync)
        {
            if (_started || _disposed)
            {
                return;
            }

            // Every queue's endpoint is found before any thread starts: a missing one starts nothing.
            var targets = _entries.Select(entry => endpoints.FirstOrDefault(e => e.Name == entry.Device)
                ?? throw new ArgumentException($"no endpoint for device {entry.Device}", nameof(endpoints))).ToList();
            _started = true;
            foreach (var group in _entries.Select((entry, handle) => (entry, handle, endpoint: targets[handle])).GroupBy(t => t.endpoint))
            {
                var handles = group.OrderBy(t => t.entry.Queue).ToDictionary(t => t.entry.Queue, t => t.handle);
                group.Key.QueueKick = q =>
                {
                    if (handles.TryGetValue(q, out var h))
                    {
                        Signal(h);
                    }
                };
            }

            for (var i = 0; i < _entries.Count; i++)
            {
                var entry = _entries[i];
                var endpoint = targets[i];
                entry.Thread = new Thread(() => Loop(entry, endpoint))
                {
                    IsBackground = true,
                    Name = $"queue-{entry.Device}-q{entry.Queue}",
                };
                entry.Thread.Start();
            }
        }
    }

    /// <summary>
    /// Stops the workers: each ends after the request it is serving. Waits up to <see cref="StopWait"/> in all; a
    /// worker still inside a host I/O after that is left to finish (its lease keeps guest RAM mapped until it does).
    /// </summary>
    public void Dispose()
    {
        lock (_sync)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
        }

        foreach (var entry in _entries)
        {
            try
            {
                entry.Fd.Write(1); // wake the thread so it sees _disposed
            }
            catch (ObjectDisposedException)
            {
            }
        }

        var deadline = DateTime.UtcNow + StopWait;
        foreach (var entry in _entries)
        {
            var left = deadline - DateTime.UtcNow;
            if (entry.Thread is null || entry.Thread.Join(left > TimeSpan.Zero ? left : TimeSpan.Zero))
            {
                // KVM keeps its own reference to a registered ioeventfd; closing ours is safe.
                entry.Fd.Dispose();
            }
            else
            {
                Interlocked.Increment(ref _abandoned);
            }
        }

        if (Abandoned > 0)
        {
            AbandonedWorkers?.Invoke(Abandoned);
        }
    }

    private void Loop(Entry entry, DeviceEndpoint endpoint)
    {
        while (!_disposed)
        {
            try
            {
                if (!entry.Fd.TryRead(out _))
                {
                    entry.Fd.WaitReadable(-1);
                    continue;
                }
            }
            catch (Exception ex) when (ex is ObjectDisposedException or KvmException)
            {
                return;
            }

            if (_disposed)
            {
                return;
            }

            Interlocked.Increment(ref _kicks);
            if (_memory is not null && !_memory.TryLease())
            {
                return;
            }

            try
            {
                // Never throws: the endpoint hands device failures to the device's supervisor.
                endpoint.ServeQueue(entry.Queue);
            }
            finally
            {
                _memory?.ReleaseLease();
            }
        }
    }

    private sealed class Entry(string device, int queue, EventFd fd)
    {
        public string Device { get; } = device;

        public int Queue { get; } = queue;

        public EventFd Fd { get; } = fd;

        public Thread? Thread { get; set; }
    }
}
