using ActorVmm.Actors.Endpoints;
using ActorVmm.Kvm;

namespace ActorVmm.Actors.Virtio;

/// <summary>
/// The virtqueue notifications of one VM, off the vCPU threads. Each queue has an eventfd registered as a KVM
/// ioeventfd on its notify register, so a guest kick completes inside KVM without a VM exit to us. One thread per
/// queue (<c>notify-DEVICE-qN</c>, blocked in poll, no CPU while idle) waits on its eventfd and, on a kick, hands
/// "queue N kicked" to the device's <see cref="DeviceEndpoint.NotifyQueue"/>: one access at a time with the device's
/// register accesses, under supervision. Queue processing thus runs on the notifier thread or the device actor,
/// never on a vCPU.
/// Device-initiated work (console input, rate limiter refills) is signalled into the same eventfds.
/// </summary>
public sealed class QueueNotifiers : IDisposable
{
    private readonly List<Entry> _entries = [];
    private readonly Lock _sync = new();
    private volatile bool _disposed;
    private bool _started;

    /// <summary>Kicks forwarded to the devices so far (all queues).</summary>
    public long Kicks => Interlocked.Read(ref _kicks);

    private long _kicks;

    /// <summary>Number of queues watched.</summary>
    public int Count => _entries.Count;

    /// <summary>
    /// Adds queue <paramref name="queue"/> of device <paramref name="device"/> whose notify register is at guest
    /// address <paramref name="address"/>; registers its eventfd as an ioeventfd for 2-byte writes there
    /// (Linux's virtio-pci driver writes the queue index as a 16-bit value). Returns a handle to signal it.
    /// </summary>
    internal int Add(KvmVm vm, string device, int queue, ulong address)
    {
        var fd = EventFd.Create();
        try
        {
            vm.RegisterIoeventfd(fd, address, 2, pio: false);
        }
        catch
        {
            fd.Dispose();
            throw;
        }

        _entries.Add(new Entry(device, queue, fd));
        return _entries.Count - 1;
    }

    /// <summary>Asks for queue processing as if the guest had kicked (safe from any thread, never blocks).</summary>
    internal void Signal(int handle)
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

    /// <summary>Starts the notifier threads; kicks go to the endpoint of the same name in <paramref name="endpoints"/>. Once only.</summary>
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
            for (var i = 0; i < _entries.Count; i++)
            {
                var entry = _entries[i];
                var endpoint = targets[i];
                entry.Thread = new Thread(() => Loop(entry, endpoint))
                {
                    IsBackground = true,
                    Name = $"notify-{entry.Device}-q{entry.Queue}",
                };
                entry.Thread.Start();
            }
        }
    }

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

        foreach (var entry in _entries)
        {
            if (entry.Thread is null || entry.Thread.Join(TimeSpan.FromSeconds(5)))
            {
                // KVM keeps its own reference to a registered ioeventfd; closing ours is safe.
                entry.Fd.Dispose();
            }
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

            // Never throws: the endpoint catches device failures and hands them to the device's supervisor.
            endpoint.NotifyQueue(entry.Queue);
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
