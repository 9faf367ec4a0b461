using ActorVmm.Actors.Endpoints;
using ActorVmm.Kvm;
using ActorVmm.Kvm.Linux;
using ActorVmm.Kvm.Memory;

namespace ActorVmm.Actors.Virtio;

/// <summary>
/// The queue workers of one VM, which serve its virtqueues off the register path. Each queue's eventfd is a KVM
/// ioeventfd on its notify register for writes of any width, so a guest kick completes inside KVM without an exit to
/// us; notify writes that do exit (and device-initiated work: console input, a rate limiter refill, DRIVER_OK, a
/// restart) signal the same eventfd. A kick runs <see cref="DeviceEndpoint.ServeQueue"/>: claim, serve and complete
/// requests without the device's gate, so register accesses never wait for a request's I/O.
/// <para>
/// Threads: one notifier per VM (<c>queues-notify</c>) waits in epoll on the eventfds of every queue whose passes never
/// block on host I/O (console, rng) and runs their passes itself — each pass is bounded and touches only guest RAM
/// and memory. A queue whose passes do block on host I/O (virtio-blk: pread/pwrite/fsync) keeps a thread of its own
/// (<c>queue-DEVICE-qN</c>) waiting on its eventfd, so a slow disk never delays another queue's pass and a blk kick
/// costs no extra thread hop. A VM with one disk, a console and an rng runs 2 threads instead of 4. A kick that lands
/// during a pass re-arms the eventfd (the counter is read before the pass), so it runs another pass afterwards;
/// two passes of one queue never run at once (a queue has exactly one thread).
/// </para>
/// <para>
/// Guest RAM: every pass holds a lease on it (<see cref="GuestMemory.TryLease"/>), so the RAM stays mapped until the
/// last pass ends even when the VM is disposed meanwhile. <see cref="Dispose"/> quiesces and waits for the threads
/// briefly; one stuck in a pass is left to finish (counted, logged) and unmaps the RAM when it does.
/// </para>
/// </summary>
public sealed class QueueWorkers : IDisposable
{
    /// <summary>How long <see cref="Dispose"/> waits for all workers together.</summary>
    public static readonly TimeSpan StopWait = TimeSpan.FromSeconds(2);

    private const int ReadyBatch = 64;

    private readonly List<Entry> _entries = [];
    private readonly List<Thread> _threads = [];
    private readonly Lock _sync = new();
    private readonly GuestMemory? _memory;
    private EventFd? _stop;
    private volatile bool _disposed;
    private bool _started;
    private long _kicks;
    private int _abandoned;

    /// <param name="memory">The guest RAM the queues live in; each pass holds a lease on it (null: no lease, for tests).</param>
    public QueueWorkers(GuestMemory? memory = null)
    {
        _memory = memory;
    }

    /// <summary>Host CPUs every worker thread is pinned to when it starts (null: not pinned); set before <see cref="Start"/>.</summary>
    public CpuSet? Affinity { get; init; }

    /// <summary>Kicks the workers took so far (all queues; several signals may make one kick).</summary>
    public long Kicks => Interlocked.Read(ref _kicks);

    /// <summary>Number of queues served.</summary>
    public int Count => _entries.Count;

    /// <summary>Threads <see cref="Start"/> started: the notifier (when any queue never blocks) plus one per blocking queue.</summary>
    public int Threads
    {
        get
        {
            lock (_sync)
            {
                return _threads.Count;
            }
        }
    }

    /// <summary>Workers still inside a pass when <see cref="Dispose"/> gave up waiting (their RAM lease keeps it mapped).</summary>
    public int Abandoned => Volatile.Read(ref _abandoned);

    /// <summary>Raised by <see cref="Dispose"/> with the number of workers it left inside a host I/O (logged by the host).</summary>
    public event Action<int>? AbandonedWorkers;

    /// <summary>
    /// Adds queue <paramref name="queue"/> of device <paramref name="device"/> whose notify register is at guest
    /// address <paramref name="address"/>; registers its eventfd as an ioeventfd there for writes of any width (the
    /// driver may use 1, 2, 4 or 8 bytes). <paramref name="blocksOnHostIo"/>: its passes wait for host I/O (a disk),
    /// so it gets a thread of its own instead of running on the notifier. <paramref name="dataMatch"/>: the register
    /// is shared by every queue (virtio-mmio's QueueNotify), so the ioeventfd takes only 32-bit writes of that value
    /// (the queue index); other writes exit to the device. Returns a handle to signal it.
    /// </summary>
    internal int Add(KvmVm vm, string device, int queue, ulong address, bool blocksOnHostIo = false, uint? dataMatch = null)
    {
        var fd = EventFd.Create();
        try
        {
            if (dataMatch is { } value)
            {
                vm.RegisterIoeventfd(fd, address, sizeof(uint), pio: false, value);
            }
            else
            {
                vm.RegisterIoeventfd(fd, address, 0, pio: false);
            }
        }
        catch
        {
            fd.Dispose();
            throw;
        }

        return Add(new Entry(device, queue, fd, blocksOnHostIo));
    }

    /// <summary>Adds a queue with no ioeventfd (tests; kicks come through <see cref="Signal"/>).</summary>
    internal int Add(string device, int queue, bool blocksOnHostIo = false) =>
        Add(new Entry(device, queue, EventFd.Create(), blocksOnHostIo));

    /// <summary>Asks for a pass of a queue as if the guest had kicked (safe from any thread, never blocks).</summary>
    public void Signal(int handle)
    {
        if (_disposed || (uint)handle >= (uint)_entries.Count)
        {
            return;
        }

        Wake(_entries[handle].Fd);
    }

    /// <summary>Asks for a pass of every queue (after a restore: requests the guest queued before the snapshot are served).</summary>
    public void SignalAll()
    {
        for (var handle = 0; handle < _entries.Count; handle++)
        {
            Signal(handle);
        }
    }

    /// <summary>
    /// Starts the workers; each queue is served through the endpoint of its device's name in
    /// <paramref name="endpoints"/>, whose <see cref="DeviceEndpoint.QueueKick"/> it sets. Once only.
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

            // Every queue's endpoint is found, and the epoll set built, before any thread starts: a failure starts nothing.
            foreach (var entry in _entries)
            {
                entry.Endpoint = endpoints.FirstOrDefault(e => e.Name == entry.Device)
                    ?? throw new ArgumentException($"no endpoint for device {entry.Device}", nameof(endpoints));
            }

            var notified = _entries.Where(e => !e.BlocksOnHostIo).ToList();
            var (epoll, stop) = notified.Count > 0 ? Watch(notified) : (null, null);
            _started = true;
            _stop = stop;
            foreach (var group in _entries.Select((entry, handle) => (entry, handle)).GroupBy(t => t.entry.Endpoint!))
            {
                var handles = group.ToDictionary(t => t.entry.Queue, t => t.handle);
                group.Key.QueueKick = q =>
                {
                    if (handles.TryGetValue(q, out var h))
                    {
                        Signal(h);
                    }
                };
            }

            if (epoll is not null)
            {
                StartThread("queues-notify", () => Notify(epoll, stop!, notified));
            }

            foreach (var entry in _entries.Where(e => e.BlocksOnHostIo))
            {
                StartThread($"queue-{entry.Device}-q{entry.Queue}", () => Lane(entry));
            }
        }
    }

    /// <summary>
    /// Stops the workers: each ends after the pass it is serving. Waits up to <see cref="StopWait"/> in all; a worker
    /// still inside a host I/O after that is left to finish (its lease keeps guest RAM mapped until it does).
    /// </summary>
    public void Dispose()
    {
        Thread[] threads;
        lock (_sync)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            threads = [.. _threads];
            if (!_started)
            {
                // No thread owns the eventfds yet. KVM keeps its own reference to a registered ioeventfd.
                _entries.ForEach(e => e.Fd.Dispose());
                return;
            }
        }

        // Wake every waiter so it sees _disposed; each thread closes its own descriptors when it ends.
        if (_stop is not null)
        {
            Wake(_stop);
        }

        _entries.Where(e => e.BlocksOnHostIo).ToList().ForEach(e => Wake(e.Fd));

        var deadline = DateTime.UtcNow + StopWait;
        foreach (var thread in threads)
        {
            var left = deadline - DateTime.UtcNow;
            if (!thread.Join(left > TimeSpan.Zero ? left : TimeSpan.Zero))
            {
                Interlocked.Increment(ref _abandoned);
            }
        }

        if (Abandoned > 0)
        {
            AbandonedWorkers?.Invoke(Abandoned);
        }
    }

    private int Add(Entry entry)
    {
        lock (_sync)
        {
            if (_started || _disposed)
            {
                entry.Fd.Dispose();
                throw new InvalidOperationException("queues are added before the workers start");
            }

            _entries.Add(entry);
            return _entries.Count - 1;
        }
    }

    private static void Wake(EventFd fd)
    {
        try
        {
            fd.Write(1);
        }
        catch (ObjectDisposedException)
        {
            // The VM is going away (the worker has ended and closed it).
        }
    }

    private static (Epoll Epoll, EventFd Stop) Watch(List<Entry> notified)
    {
        var epoll = Epoll.Create();
        EventFd? stop = null;
        try
        {
            stop = EventFd.Create();
            epoll.Add(stop, ulong.MaxValue);
            for (var i = 0; i < notified.Count; i++)
            {
                epoll.Add(notified[i].Fd, (ulong)i);
            }

            return (epoll, stop);
        }
        catch
        {
            stop?.Dispose();
            epoll.Dispose();
            throw;
        }
    }

    private void StartThread(string name, ThreadStart body)
    {
        var affinity = Affinity;
        var thread = new Thread(() =>
        {
            _ = ThreadScheduling.TryPinCurrentThread(affinity);
            body();
        }) { IsBackground = true, Name = name };
        _threads.Add(thread);
        thread.Start();
    }

    /// <summary>The notifier: waits on all its queues at once and runs a pass of each one kicked.</summary>
    private void Notify(Epoll epoll, EventFd stop, List<Entry> entries)
    {
        Span<ulong> ready = stackalloc ulong[Math.Min(entries.Count + 1, ReadyBatch)];
        try
        {
            while (!_disposed)
            {
                int count;
                try
                {
                    count = epoll.Wait(ready, Timeout.Infinite);
                }
                catch (KvmException)
                {
                    return;
                }

                for (var i = 0; i < count; i++)
                {
                    if (ready[i] == ulong.MaxValue)
                    {
                        continue; // the stop signal: the loop sees _disposed
                    }

                    if (!Serve(entries[(int)ready[i]]))
                    {
                        return;
                    }
                }
            }
        }
        finally
        {
            entries.ForEach(e => e.Fd.Dispose());
            stop.Dispose();
            epoll.Dispose();
        }
    }

    /// <summary>The thread of a queue whose passes block on host I/O.</summary>
    private void Lane(Entry entry)
    {
        try
        {
            while (!_disposed)
            {
                try
                {
                    entry.Fd.WaitReadable(Timeout.Infinite);
                }
                catch (KvmException)
                {
                    return;
                }

                if (!Serve(entry))
                {
                    return;
                }
            }
        }
        finally
        {
            entry.Fd.Dispose();
        }
    }

    /// <summary>Takes a kick of <paramref name="entry"/> and runs one pass; false when the worker should end.</summary>
    private bool Serve(Entry entry)
    {
        try
        {
            // Read before the pass: a kick landing during the pass re-arms the eventfd and gets a pass of its own.
            if (!entry.Fd.TryRead(out _))
            {
                return !_disposed;
            }
        }
        catch (Exception ex) when (ex is ObjectDisposedException or KvmException)
        {
            return false;
        }

        if (_disposed)
        {
            return false;
        }

        Interlocked.Increment(ref _kicks);
        if (_memory is not null && !_memory.TryLease())
        {
            return false;
        }

        try
        {
            // Never throws: the endpoint hands device failures to the device's supervisor.
            entry.Endpoint!.ServeQueue(entry.Queue);
        }
        finally
        {
            _memory?.ReleaseLease();
        }

        return !_disposed;
    }

    private sealed class Entry(string device, int queue, EventFd fd, bool blocksOnHostIo)
    {
        public string Device { get; } = device;

        public int Queue { get; } = queue;

        public EventFd Fd { get; } = fd;

        public bool BlocksOnHostIo { get; } = blocksOnHostIo;

        public DeviceEndpoint? Endpoint { get; set; }
    }
}
