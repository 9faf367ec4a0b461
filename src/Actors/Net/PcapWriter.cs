using System.Buffers.Binary;
using System.Diagnostics;
using System.Threading.Channels;
using ActorVmm.Devices.Net;

namespace ActorVmm.Actors.Net;

/// <summary>
/// Writes frames to a classic pcap file (magic 0xa1b2c3d4, version 2.4, snaplen 262144, LINKTYPE_ETHERNET) that
/// tcpdump and Wireshark read. Callers never wait: <see cref="Capture"/> copies the frame and its time into a bounded
/// queue (a full queue drops the frame and counts it) and one background thread appends them to the file. A write
/// error stops the capture (<see cref="Failure"/> says why); the VM goes on.
/// </summary>
public sealed class PcapWriter : IDisposable
{
    public const uint Magic = 0xa1b2c3d4;
    public const int SnapLength = 262144;
    public const int LinkTypeEthernet = 1;
    public const int FileHeaderSize = 24;
    public const int RecordHeaderSize = 16;

    /// <summary>Frames the queue holds before it drops.</summary>
    public const int DefaultQueueFrames = 4096;

    /// <summary>Bytes the queue holds before it drops (a burst of GSO frames is 64 KiB apiece).</summary>
    public const long DefaultQueueBytes = 32 << 20;

    /// <summary>How long <see cref="Dispose"/> waits for the writer to empty the queue.</summary>
    private static readonly TimeSpan _drainWait = TimeSpan.FromSeconds(10);

    private readonly FileStream _file;
    private readonly Channel<Record> _queue;
    private readonly long _maxQueuedBytes;
    private readonly long _originTimestamp;
    private readonly long _originUnixMicroseconds;
    private readonly Thread _writer;
    private long _queuedBytes;
    private long _captured;
    private long _dropped;
    private readonly ActorVmm.Kvm.Linux.CpuSet? _affinity;
    private volatile string? _failure;
    private int _disposed;

    /// <summary>
    /// Creates (or truncates) <paramref name="path"/> and writes the file header. A file that cannot be created is an
    /// <see cref="IOException"/> of one line naming the path and why. <paramref name="affinity"/>: host CPUs the
    /// writer thread is pinned to (null: not pinned).
    /// </summary>
    public PcapWriter(string path, int queueFrames = DefaultQueueFrames, long queueBytes = DefaultQueueBytes, ActorVmm.Kvm.Linux.CpuSet? affinity = null)
    {
        _affinity = affinity;
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentOutOfRangeException.ThrowIfLessThan(queueFrames, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(queueBytes, 1);
        Path = path;
        try
        {
            // FileShare.None: .NET then takes an exclusive lock, so a second capture to the same file is refused rather than interleaved.
            _file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1 << 16);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new IOException($"cannot create capture file '{path}': {ex.Message}", ex);
        }

        Span<byte> header = stackalloc byte[FileHeaderSize];
        BinaryPrimitives.WriteUInt32LittleEndian(header, Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], 4);
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], 0); // thiszone: timestamps are UTC
        BinaryPrimitives.WriteUInt32LittleEndian(header[12..], 0); // sigfigs
        BinaryPrimitives.WriteInt32LittleEndian(header[16..], SnapLength);
        BinaryPrimitives.WriteInt32LittleEndian(header[20..], LinkTypeEthernet);
        try
        {
            _file.Write(header);
            _file.Flush();
        }
        catch (IOException ex)
        {
            _file.Dispose();
            throw new IOException($"cannot write capture file '{path}': {ex.Message}", ex);
        }

        _maxQueuedBytes = queueBytes;
        _queue = Channel.CreateBounded<Record>(new BoundedChannelOptions(queueFrames)
        {
            FullMode = BoundedChannelFullMode.Wait, // TryWrite says false when full: the frame is dropped and counted here
            SingleReader = true,
            SingleWriter = false,
            AllowSynchronousContinuations = false,
        });
        _originTimestamp = Stopwatch.GetTimestamp();
        _originUnixMicroseconds = (DateTime.UtcNow - DateTime.UnixEpoch).Ticks / TimeSpan.TicksPerMicrosecond;
        _writer = new Thread(WriterMain) { Name = "net-pcap", IsBackground = true };
        _writer.Start();
    }

    public string Path { get; }

    /// <summary>Frames written to the file.</summary>
    public long Captured => Interlocked.Read(ref _captured);

    /// <summary>Frames dropped: the queue was full, the frame had no Ethernet header, or the capture had stopped.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Why writing stopped early (a write error), null while it works.</summary>
    public string? Failure => _failure;

    /// <summary>
    /// Captures a frame laid out as <see cref="NetFrame"/> says (virtio_net_hdr_v1, then Ethernet); the file gets the
    /// Ethernet frame only. Thread-safe, never blocks.
    /// </summary>
    public void Capture(ReadOnlySpan<byte> frame)
    {
        if (!NetFrame.HasEthernetHeader(frame))
        {
            Interlocked.Increment(ref _dropped);
            return;
        }

        CaptureEthernet(NetFrame.Ethernet(frame));
    }

    /// <summary>Captures a bare Ethernet frame (no virtio header). Thread-safe, never blocks.</summary>
    public void CaptureEthernet(ReadOnlySpan<byte> ethernet)
    {
        var timestamp = Stopwatch.GetTimestamp();
        if (ethernet.Length < NetFrame.EthernetHeaderSize || _failure is not null || Volatile.Read(ref _disposed) != 0)
        {
            Interlocked.Increment(ref _dropped);
            return;
        }

        var kept = Math.Min(ethernet.Length, SnapLength);
        if (Interlocked.Add(ref _queuedBytes, kept) > _maxQueuedBytes)
        {
            Interlocked.Add(ref _queuedBytes, -kept);
            Interlocked.Increment(ref _dropped);
            return;
        }

        if (!_queue.Writer.TryWrite(new Record(timestamp, ethernet.Length, ethernet[..kept].ToArray())))
        {
            Interlocked.Add(ref _queuedBytes, -kept);
            Interlocked.Increment(ref _dropped);
        }
    }

    /// <summary>Writes what is queued (waiting up to 10 s for it), then closes the file.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _queue.Writer.TryComplete();
        if (!_writer.Join(_drainWait))
        {
            _failure ??= "the capture writer did not finish in time; the file may end short";
        }
    }

    private void WriterMain()
    {
        ActorVmm.Kvm.Linux.ThreadScheduling.TryRunCurrentThreadWhenIdle();
        _ = ActorVmm.Kvm.Linux.ThreadScheduling.TryPinCurrentThread(_affinity);
        var reader = _queue.Reader;
        Span<byte> header = stackalloc byte[RecordHeaderSize];
        try
        {
            while (reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
            {
                while (reader.TryRead(out var record))
                {
                    Interlocked.Add(ref _queuedBytes, -record.Data.Length);
                    var micros = _originUnixMicroseconds + ((record.Timestamp - _originTimestamp) * 1_000_000 / Stopwatch.Frequency);
                    BinaryPrimitives.WriteUInt32LittleEndian(header, (uint)(micros / 1_000_000));
                    BinaryPrimitives.WriteUInt32LittleEndian(header[4..], (uint)(micros % 1_000_000));
                    BinaryPrimitives.WriteInt32LittleEndian(header[8..], record.Data.Length);
                    BinaryPrimitives.WriteInt32LittleEndian(header[12..], record.OriginalLength);
                    _file.Write(header);
                    _file.Write(record.Data);
                    Interlocked.Increment(ref _captured);
                }

                // The queue is empty: hand what is buffered to the OS, so a reader of the live file sees it.
                _file.Flush();
            }
        }
        catch (IOException ex)
        {
            _failure = $"capture file '{Path}': {ex.Message}";
            while (reader.TryRead(out var lost))
            {
                Interlocked.Add(ref _queuedBytes, -lost.Data.Length);
                Interlocked.Increment(ref _dropped);
            }
        }
        finally
        {
            try
            {
                _file.Dispose();
            }
            catch (IOException ex)
            {
                _failure ??= $"capture file '{Path}': {ex.Message}";
            }
        }
    }

    private readonly record struct Record(long Timestamp, int OriginalLength, byte[] Data);
}
