using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using ActorVmm.Devices.Net;

namespace ActorVmm.Actors.Net;

/// <summary>
/// One NIC's network side for the VM's life (outside the restartable device): its <see cref="INetLink"/> (a switch port
/// or a TAP), a bounded queue of frames toward the guest (beyond <c>maxPendingFrames</c> or <c>maxPendingBytes</c> a
/// frame is dropped and counted, so memory stays bounded whatever the guest does, e.g. never refilling its receive
/// queue), lock-free <see cref="Counters"/>, an optional <see cref="Capture"/> hook and the NIC's network faults
/// (<see cref="Faults"/>). The link is started by the constructor: frames it delivers are queued and announced with
/// <see cref="FrameArrived"/>.
/// </summary>
public sealed class NetPort : INetPort, IDisposable
{
    public const int DefaultMaxPendingFrames = 256;
    public const long DefaultMaxPendingBytes = 4L << 20;

    private readonly ConcurrentQueue<byte[]> _pending = new();
    private readonly int _maxPendingFrames;
    private readonly long _maxPendingBytes;
    private int _pendingFrames;
    private long _pendingBytes;
    private INetPortFaults? _faults;
    private volatile bool _disposed;

    /// <param name="name">The NIC's device name (<c>net0</c>), for logs and faults.</param>
    /// <param name="link">Where frames go; the port owns it (disposing the port disposes it).</param>
    public NetPort(string name, INetLink link, int maxPendingFrames = DefaultMaxPendingFrames, long maxPendingBytes = DefaultMaxPendingBytes)
    {
        ArgumentNullException.ThrowIfNull(link);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPendingFrames, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPendingBytes, NetFrame.MaxSize);
        Name = name;
        Link = link;
        _maxPendingFrames = maxPendingFrames;
        _maxPendingBytes = maxPendingBytes;
        link.Start(Deliver);
    }

    public string Name { get; }

    public INetLink Link { get; }

    public NetPortCounters Counters { get; } = new();

    /// <summary>
    /// Called with the Ethernet frame (virtio header stripped) of every frame put on the wire (after faults, each copy
    /// of a duplicate) and every frame arriving from the link (before the queue bound), from the thread doing it.
    /// Must neither block nor throw (e.g. a pcap writer's bounded queue).
    /// </summary>
    public Action<ReadOnlySpan<byte>>? Capture { get; set; }

    /// <summary>The NIC's network faults (set by <c>FaultInjector.AttachNet</c>); null: none.</summary>
    public INetPortFaults? Faults
    {
        get => Volatile.Read(ref _faults);
        set => Volatile.Write(ref _faults, value);
    }

    public Action? FrameArrived { get; set; }

    public int PendingFrames => Volatile.Read(ref _pendingFrames);

    /// <summary>Bytes of the frames waiting for the guest.</summary>
    public long PendingBytes => Interlocked.Read(ref _pendingBytes);

    public void Send(byte[] frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        if (_disposed)
        {
            Counters.CountDrop(NetDropReason.Closed);
            return;
        }

        if (!IsWellFormed(frame))
        {
            Counters.CountDrop(NetDropReason.Malformed);
            return;
        }

        Counters.CountTx(frame.Length);
        var faults = Faults;
        if (faults is { Active: true })
        {
            faults.Egress(frame);
            return;
        }

        Transmit(frame);
    }

    public bool TryReceive([NotNullWhen(true)] out byte[]? frame)
    {
        if (!_pending.TryDequeue(out frame))
        {
            return false;
        }

        Interlocked.Decrement(ref _pendingFrames);
        Interlocked.Add(ref _pendingBytes, -frame.Length);
        return true;
    }

    public void SetGuestOffloads(ulong ackedFeatures) => Link.SetGuestOffloads(ackedFeatures);

    /// <summary>Puts a frame on the wire: the capture sees it, the link sends it (never blocks). Faults call it for frames they let through.</summary>
    public void Transmit(byte[] frame)
    {
        if (_disposed)
        {
            Counters.CountDrop(NetDropReason.Closed);
            return;
        }

        Capture?.Invoke(NetFrame.Ethernet(frame));
        Link.Send(frame);
    }

    /// <summary>Counts a frame a fault (or its bounded holding) dropped.</summary>
    public void CountDrop(NetDropReason reason) => Counters.CountDrop(reason);

    /// <summary>Closes the link and the faults; frames still queued for the guest are dropped.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Faults?.Close();
        Link.Dispose();
        while (TryReceive(out _))
        {
        }
    }

    private static bool IsWellFormed(byte[] frame) => NetFrame.HasEthernetHeader(frame) && frame.Length <= NetFrame.MaxSize;

    /// <summary>The link's delivery callback (one call at a time, from its thread or actor): queue for the guest, or drop.</summary>
    private void Deliver(byte[] frame)
    {
        if (_disposed)
        {
            return;
        }

        if (!IsWellFormed(frame))
        {
            Counters.CountDrop(NetDropReason.Malformed);
            return;
        }

        var faults = Faults;
        if (faults is { Active: true } && faults.CutsIngress())
        {
            Counters.CountDrop(NetDropReason.Partition);
            return;
        }

        Capture?.Invoke(NetFrame.Ethernet(frame));
        var frames = Interlocked.Increment(ref _pendingFrames);
        var bytes = Interlocked.Add(ref _pendingBytes, frame.Length);
        if (frames > _maxPendingFrames || bytes > _maxPendingBytes)
        {
            Interlocked.Decrement(ref _pendingFrames);
            Interlocked.Add(ref _pendingBytes, -frame.Length);
            Counters.CountDrop(NetDropReason.RxQueueFull);
            return;
        }

        _pending.Enqueue(frame);
        Counters.CountRx(frame.Length);
        FrameArrived?.Invoke();
    }
}
