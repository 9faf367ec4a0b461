namespace ActorVmm.Host.GuestConsole;

/// <summary>
/// Sink for guest console output (stdout, a file, or nothing) that never blocks the caller — a device actor
/// serving a vCPU's byte-at-a-time UART writes — on the host terminal or disk.
/// </summary>
/// <remarks>
/// <see cref="Write"/> appends to an in-memory buffer under a short lock and wakes a writer thread of its own
/// (<c>console-out</c>), which waits <see cref="CoalesceDelay"/> for more bytes, then writes the buffer in one blocking
/// call and flushes. A UART's one-byte writes thus cost a memcpy each, not a syscall and a wake-up, and a slow (or
/// Ctrl-S paused) terminal only delays output. A plain thread, not pool work: a pool worker spins after every item,
/// which under a kernel log's stream of bytes costs as much CPU as the vCPU. Beyond <see cref="MaxPending"/> bytes,
/// output is dropped and counted in <see cref="DroppedBytes"/>, as a UART without flow control would lose it.
/// </remarks>
public sealed class ConsoleOutput : IDisposable, IAsyncDisposable
{
    /// <summary>Bytes held while the stream is slow before output is dropped.</summary>
    public const int DefaultMaxPending = 1 << 20;

    /// <summary>
    /// How long the writer lets output gather after the first byte before it writes: short enough that echo still
    /// looks immediate, long enough that a kernel log costs a few hundred writes a second, not one per line or byte.
    /// </summary>
    public static readonly TimeSpan DefaultCoalesceDelay = TimeSpan.FromMilliseconds(10);

    private readonly Stream _stream;
    private readonly bool _ownsStream;
    private readonly object _lock = new();
    private readonly TaskCompletionSource _writerExited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private MemoryStream _pending = new();
    private MemoryStream _spare = new();
    private readonly List<TaskCompletionSource> _flushWaiters = [];
    private bool _completed;
    private bool _busy;
    private long _dropped;
    private long _written;
    private Exception? _writeError;

    /// <summary>Wraps <paramref name="stream"/>; <paramref name="ownsStream"/> disposes it with this sink.</summary>
    public ConsoleOutput(Stream stream, bool ownsStream, int maxPending = DefaultMaxPending, TimeSpan? coalesceDelay = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPending, 1);
        _stream = stream;
        _ownsStream = ownsStream;
        MaxPending = maxPending;
        CoalesceDelay = coalesceDelay ?? DefaultCoalesceDelay;
        ArgumentOutOfRangeException.ThrowIfLessThan(CoalesceDelay, TimeSpan.Zero, nameof(coalesceDelay));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(CoalesceDelay, TimeSpan.FromSeconds(1), nameof(coalesceDelay));
        new Thread(WriterLoop) { IsBackground = true, Name = "console-out" }.Start();
    }

    /// <summary>Bytes held while the stream is slow before output is dropped.</summary>
    public int MaxPending { get; }

    /// <summary>How long the writer lets output gather after the first byte before it writes.</summary>
    public TimeSpan CoalesceDelay { get; }

    /// <summary>Bytes dropped because the stream fell more than <see cref="MaxPending"/> behind, or failed.</summary>
    public long DroppedBytes => Interlocked.Read(ref _dropped);

    /// <summary>Bytes handed to the stream.</summary>
    public long WrittenBytes => Interlocked.Read(ref _written);

    /// <summary>The first write error of the stream (e.g. a full disk, a closed pipe); output is dropped after it.</summary>
    public Exception? WriteError => Volatile.Read(ref _writeError);

    /// <summary>
    /// Opens the host end <paramref name="spec"/> names: stdout for stdio (<paramref name="stdout"/> overrides it),
    /// a file created or truncated for file:PATH, a discarding sink for none.
    /// </summary>
    /// <exception cref="ConsoleException">The file cannot be opened for writing.</exception>
    public static ConsoleOutput Open(SerialSpec spec, Stream? stdout = null)
    {
        switch (spec.Kind)
        {
            case SerialSpecKind.Stdio:
                return stdout is null ? new ConsoleOutput(System.Console.OpenStandardOutput(), ownsStream: true) : new ConsoleOutput(stdout, ownsStream: false);
            case SerialSpecKind.File:
                try
                {
                    var file = new FileStream(spec.Path!, FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize: 1, FileOptions.None);
                    return new ConsoleOutput(file, ownsStream: true);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
                {
                    throw new ConsoleException($"cannot open serial output file {spec.Path}: {e.Message}", e);
                }

            default:
                return new ConsoleOutput(Stream.Null, ownsStream: false);
        }
    }

    /// <summary>Queues guest output; returns at once. Output beyond <see cref="MaxPending"/> or after disposal is dropped.</summary>
    public void Write(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        lock (_lock)
        {
            if (_completed || _writeError is not null)
            {
                Interlocked.Add(ref _dropped, data.Length);
                return;
            }

            var room = MaxPending - (int)_pending.Length;
            var take = Math.Min(room, data.Length);
            if (take < data.Length)
            {
                Interlocked.Add(ref _dropped, data.Length - take);
            }

            if (take <= 0)
            {
                return;
            }

            var wake = _pending.Length == 0;
            _pending.Write(data[..take]);
            if (wake)
            {
                Monitor.Pulse(_lock);
            }
        }
    }

    /// <summary>Queues one byte (a UART THR write).</summary>
    public void WriteByte(byte value) => Write([value]);

    /// <summary>Completes when everything queued so far has been written and flushed (or dropped).</summary>
    public Task FlushAsync()
    {
        lock (_lock)
        {
            if (_pending.Length == 0 && !_busy)
            {
                return Task.CompletedTask;
            }

            var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _flushWaiters.Add(waiter);
            return waiter.Task;
        }
    }

    private void WriterLoop()
    {
        try
        {
            while (true)
            {
                lock (_lock)
                {
                    while (_pending.Length == 0 && !_completed)
                    {
                        Monitor.Wait(_lock);
                    }
                }

                if (CoalesceDelay > TimeSpan.Zero)
                {
                    Thread.Sleep(CoalesceDelay);
                }

                if (!DrainPending())
                {
                    return;
                }
            }
        }
        finally
        {
            _writerExited.TrySetResult();
        }
    }

    /// <summary>Writes batches until nothing is pending; false once the sink is completed and empty.</summary>
    private bool DrainPending()
    {
        while (true)
        {
            MemoryStream batch;
            lock (_lock)
            {
                if (_pending.Length == 0)
                {
                    _busy = false;
                    foreach (var waiter in _flushWaiters)
                    {
                        waiter.TrySetResult();
                    }

                    _flushWaiters.Clear();
                    return !_completed;
                }

                batch = _pending;
                _pending = _spare;
                _spare = batch;
                _busy = true;
            }

            try
            {
                if (_writeError is null)
                {
                    _stream.Write(batch.GetBuffer(), 0, (int)batch.Length);
                    _stream.Flush();
                    Interlocked.Add(ref _written, batch.Length);
                }
                else
                {
                    Interlocked.Add(ref _dropped, batch.Length);
                }
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or NotSupportedException or UnauthorizedAccessException)
            {
                Interlocked.Add(ref _dropped, batch.Length);
                Volatile.Write(ref _writeError, e);
            }

            batch.SetLength(0);
        }
    }

    /// <summary>Writes out what is queued (waiting at most <paramref name="timeout"/> for a stuck stream), then closes.</summary>
    public async ValueTask DisposeAsync(TimeSpan timeout)
    {
        lock (_lock)
        {
            if (_completed)
            {
                return;
            }

            _completed = true;
            Monitor.Pulse(_lock);
        }

        await Task.WhenAny(_writerExited.Task, Task.Delay(timeout)).ConfigureAwait(false);
        if (_ownsStream && _writerExited.Task.IsCompleted)
        {
            await _stream.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Writes out what is queued (waiting at most 2 s for a stuck stream), then closes.</summary>
    public ValueTask DisposeAsync() => DisposeAsync(TimeSpan.FromSeconds(2));

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();
}
