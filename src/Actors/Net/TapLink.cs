using ActorVmm.Devices.Net;
using ActorVmm.Kvm;
using ActorVmm.Kvm.Linux;

namespace ActorVmm.Actors.Net;

/// <summary>
/// A NIC's link to a TAP interface on the host. One reader thread (<c>net-tap-NAME</c>) waits with epoll on the TAP
/// and a stop eventfd, reads each frame into a reused buffer and delivers a right-sized copy; sends write straight to
/// the TAP from the caller's thread (non-blocking: a frame the TAP does not take is dropped and counted). The guest's
/// receive offloads become the TAP's TUNSETOFFLOAD flags, so the kernel hands over only frames the guest accepts.
/// </summary>
public sealed class TapLink : INetLink
{
    /// <summary>How long <see cref="Dispose"/> waits for the reader thread to end.</summary>
    private static readonly TimeSpan _stopWait = TimeSpan.FromSeconds(2);

    private const ulong TapTag = 0;
    private const ulong StopTag = 1;

    // virtio-net feature bits (virtio 1.2, 5.1.3) that say what the guest's receive path accepts.
    private const int GuestCsum = 1;
    private const int GuestTso4 = 7;
    private const int GuestTso6 = 8;
    private const int GuestEcn = 9;
    private const int GuestUfo = 10;

    private readonly TapDevice _tap;
    private readonly EventFd _stop;
    private readonly object _offloadLock = new();
    private Thread? _reader;
    private long _framesIn;
    private long _bytesIn;
    private long _framesOut;
    private long _bytesOut;
    private long _dropped;
    private int _lastWriteErrno;
    private volatile string? _readFailure;
    private volatile bool _stopping;
    private int _started;
    private int _disposed;

    /// <summary>Links to an opened TAP, which this link owns from now on (disposing the link closes it).</summary>
    public TapLink(TapDevice tap)
    {
        ArgumentNullException.ThrowIfNull(tap);
        _tap = tap;
        _stop = EventFd.Create();
        Description = $"tap {tap.Name}";
    }

    /// <summary>Opens the existing TAP <paramref name="name"/> (see <see cref="TapDevice.Open"/>: a <see cref="TapException"/> of one line when it cannot).</summary>
    public static TapLink Open(string name) => new(TapDevice.Open(name));

    public string Description { get; }

    /// <summary>Host CPUs the reader thread is pinned to (null: not pinned); set before the link starts.</summary>
    public CpuSet? ReaderAffinity { get; set; }

    /// <summary>The interface name.</summary>
    public string Name => _tap.Name;

    /// <summary>Frames read from the TAP and delivered.</summary>
    public long FramesIn => Interlocked.Read(ref _framesIn);

    /// <summary>Bytes of the Ethernet frames delivered (vnet headers not counted).</summary>
    public long BytesIn => Interlocked.Read(ref _bytesIn);

    /// <summary>Frames the TAP took.</summary>
    public long FramesOut => Interlocked.Read(ref _framesOut);

    /// <summary>Bytes of the Ethernet frames the TAP took (vnet headers not counted).</summary>
    public long BytesOut => Interlocked.Read(ref _bytesOut);

    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>The errno of the last write the TAP refused (EAGAIN, EINVAL, EIO...), 0 if none has been.</summary>
    public int LastWriteErrno => Volatile.Read(ref _lastWriteErrno);

    /// <summary>Why the reader stopped early (the TAP failed, e.g. it was deleted); null while it runs or after a normal stop.</summary>
    public string? ReadFailure => _readFailure;

    /// <summary>The TUNSETOFFLOAD flags now in force.</summary>
    public TapOffloads Offloads => _tap.Offloads;

    public void Start(Action<byte[]> deliver)
    {
        ArgumentNullException.ThrowIfNull(deliver);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException($"{Description} is already started");
        }

        var epoll = Epoll.Create();
        try
        {
            epoll.Add(_tap, TapTag);
            epoll.Add(_stop, StopTag);
        }
        catch
        {
            epoll.Dispose();
            throw;
        }

        var affinity = ReaderAffinity;
        _reader = new Thread(() =>
        {
            _ = ThreadScheduling.TryPinCurrentThread(affinity);
            ReadLoop(epoll, deliver);
        }) { Name = $"net-tap-{_tap.Name}", IsBackground = true };
        _reader.Start();
    }

    public void Send(byte[] frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        if (!NetFrame.HasEthernetHeader(frame) || frame.Length > NetFrame.MaxSize)
        {
            Interlocked.Increment(ref _dropped);
            return;
        }

        bool written;
        int errno;
        try
        {
            written = _tap.TryWrite(frame, out errno);
        }
        catch (ObjectDisposedException)
        {
            written = false;
            errno = 0;
        }

        if (written)
        {
            Interlocked.Increment(ref _framesOut);
            Interlocked.Add(ref _bytesOut, frame.Length - NetFrame.HeaderSize);
            return;
        }

        Interlocked.Increment(ref _dropped);
        Volatile.Write(ref _lastWriteErrno, errno);
    }

    /// <summary>
    /// Maps the acked GUEST_CSUM, GUEST_TSO4/6, GUEST_ECN and GUEST_UFO to TUN_F_*; the TSO, ECN and UFO flags only
    /// with a checksum offload (and ECN only with TSO), the combinations the kernel accepts. A kernel that refuses UFO
    /// gets the rest without it; one that refuses everything leaves the TAP without offloads (full checksums, no GSO).
    /// </summary>
    public void SetGuestOffloads(ulong ackedFeatures)
    {
        var wanted = ToTapOffloads(ackedFeatures);
        lock (_offloadLock)
        {
            if (Volatile.Read(ref _disposed) != 0 || wanted == _tap.Offloads)
            {
                return;
            }

            foreach (var offloads in new[] { wanted, wanted & ~TapOffloads.Ufo, TapOffloads.None })
            {
                try
                {
                    _tap.SetOffloads(offloads);
                    return;
                }
                catch (TapException)
                {
                    // Try the next, smaller set: the guest accepts any subset of what it acked.
                }
            }
        }
    }

    /// <summary>The TUN_F_* flags matching acked virtio-net features (pure: the kernel's rules for valid sets).</summary>
    public static TapOffloads ToTapOffloads(ulong ackedFeatures)
    {
        bool Has(int bit) => (ackedFeatures & (1UL << bit)) != 0;

        if (!Has(GuestCsum))
        {
            return TapOffloads.None;
        }

        var offloads = TapOffloads.Checksum;
        if (Has(GuestTso4))
        {
            offloads |= TapOffloads.Tso4;
        }

        if (Has(GuestTso6))
        {
            offloads |= TapOffloads.Tso6;
        }

        if (Has(GuestEcn) && (offloads & (TapOffloads.Tso4 | TapOffloads.Tso6)) != 0)
        {
            offloads |= TapOffloads.TsoEcn;
        }

        if (Has(GuestUfo))
        {
            offloads |= TapOffloads.Ufo;
        }

        return offloads;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _stopping = true;
        var reader = _reader;
        if (reader is not null)
        {
            _stop.Write();
            // Bounded: a reader stuck in deliver finds the handles closed on its next call and ends then.
            reader.Join(_stopWait);
        }

        lock (_offloadLock)
        {
            _tap.Dispose();
        }

        _stop.Dispose();
    }

    private void ReadLoop(Epoll epoll, Action<byte[]> deliver)
    {
        var buffer = new byte[NetFrame.MaxSize + 1024];
        var ready = new ulong[2];
        try
        {
            while (!_stopping)
            {
                var n = epoll.Wait(ready, -1);
                if (ready.AsSpan(0, n).Contains(StopTag))
                {
                    return;
                }

                // Drain what is waiting; the stop flag is checked between frames so a busy TAP cannot hold Dispose off.
                int length;
                while (!_stopping && (length = _tap.Read(buffer)) > 0)
                {
                    if (length < NetFrame.HeaderSize + NetFrame.EthernetHeaderSize)
                    {
                        continue;
                    }

                    var frame = buffer.AsSpan(0, length).ToArray();
                    // num_buffers: the kernel skips those two bytes, so they hold whatever the last frame left there.
                    frame[10] = 0;
                    frame[11] = 0;
                    Interlocked.Increment(ref _framesIn);
                    Interlocked.Add(ref _bytesIn, length - NetFrame.HeaderSize);
                    deliver(frame);
                }
            }
        }
        catch (ObjectDisposedException)
        {
            // Disposed while this thread was away (in deliver): stop quietly.
        }
        catch (Exception ex)
        {
            // The TAP failed (deleted: EBADFD), or deliver threw: end the reader, not the process, and say why.
            _readFailure = ex.Message;
        }
        finally
        {
            epoll.Dispose();
        }
    }
}
