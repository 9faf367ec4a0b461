using System.Threading.Channels;

namespace ActorVmm.Host.Serve;

/// <summary>
/// A VM's console output in serve mode: the last <see cref="Capacity"/> bytes, kept whether or not anybody is
/// attached, and live copies for attached readers. <see cref="Write"/> is called on the device's thread (a vCPU, the
/// device actor or a queue worker): it copies under a short lock and never waits for a reader. A reader that falls
/// more than <see cref="MaxBehind"/> bytes behind is detached (its channel completes with
/// <see cref="ConsoleOverrunException"/>; it can re-attach from the ring), so memory stays bounded.
/// </summary>
public sealed class ConsoleRing
{
    public const int DefaultCapacity = 256 * 1024;
    public const int MaxBehind = 1 << 20;

    private readonly object _lock = new();
    private readonly byte[] _ring;
    private readonly List<Reader> _readers = [];
    private long _written;
    private bool _completed;

    public ConsoleRing(int capacity = DefaultCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _ring = new byte[capacity];
    }

    public int Capacity => _ring.Length;

    /// <summary>Bytes written since the VM started (the ring holds the last <see cref="Capacity"/> of them).</summary>
    public long Written
    {
        get
        {
            lock (_lock)
            {
                return _written;
            }
        }
    }

    public void Write(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            return;
        }

        lock (_lock)
        {
            if (_completed)
            {
                return;
            }

            var source = bytes.Length > _ring.Length ? bytes[^_ring.Length..] : bytes;
            var at = (int)((_written + bytes.Length - source.Length) % _ring.Length);
            var first = Math.Min(source.Length, _ring.Length - at);
            source[..first].CopyTo(_ring.AsSpan(at));
            source[first..].CopyTo(_ring);
            _written += bytes.Length;
            if (_readers.Count == 0)
            {
                return;
            }

            var copy = bytes.ToArray();
            for (var i = _readers.Count - 1; i >= 0; i--)
            {
                var reader = _readers[i];
                if (reader.Behind + copy.Length > MaxBehind || !reader.Channel.Writer.TryWrite(copy))
                {
                    _readers.RemoveAt(i);
                    reader.Channel.Writer.TryComplete(new ConsoleOverrunException(MaxBehind));
                    continue;
                }

                Interlocked.Add(ref reader.Behind, copy.Length);
            }
        }
    }

    /// <summary>The last <paramref name="count"/> bytes (fewer when less was written).</summary>
    public byte[] Tail(int count)
    {
        lock (_lock)
        {
            return TailLocked(count);
        }
    }

    /// <summary>A live reader starting <paramref name="fromTail"/> bytes back; dispose the subscription to detach.</summary>
    public ConsoleSubscription Attach(int fromTail = 0)
    {
        var reader = new Reader();
        lock (_lock)
        {
            var history = TailLocked(fromTail);
            if (history.Length > 0)
            {
                reader.Channel.Writer.TryWrite(history);
                reader.Behind = history.Length;
            }

            if (_completed)
            {
                reader.Channel.Writer.TryComplete();
            }
            else
            {
                _readers.Add(reader);
            }
        }

        return new ConsoleSubscription(new CountingReader(reader), () => Detach(reader));
    }

    /// <summary>The VM stopped: attached readers get the rest and then the end of the stream.</summary>
    public void Complete()
    {
        lock (_lock)
        {
            _completed = true;
            foreach (var reader in _readers)
            {
                reader.Channel.Writer.TryComplete();
            }

            _readers.Clear();
        }
    }

    public int Attached
    {
        get
        {
            lock (_lock)
            {
                return _readers.Count;
            }
        }
    }

    private byte[] TailLocked(int count)
    {
        var available = (int)Math.Min(Math.Min(_written, _ring.Length), Math.Max(0, count));
        var result = new byte[available];
        var start = (int)((_written - available) % _ring.Length);
        var first = Math.Min(available, _ring.Length - start);
        _ring.AsSpan(start, first).CopyTo(result);
        _ring.AsSpan(0, available - first).CopyTo(result.AsSpan(first));
        return result;
    }

    private void Detach(Reader reader)
    {
        lock (_lock)
        {
            _readers.Remove(reader);
            reader.Channel.Writer.TryComplete();
        }
    }

    private sealed class Reader
    {
        public readonly Channel<ReadOnlyMemory<byte>> Channel =
            System.Threading.Channels.Channel.CreateUnbounded<ReadOnlyMemory<byte>>(new UnboundedChannelOptions { SingleReader = true });

        public long Behind;
    }

    /// <summary>Counts what the reader took off, so <see cref="Reader.Behind"/> is what is still queued.</summary>
    private sealed class CountingReader(Reader reader) : ChannelReader<ReadOnlyMemory<byte>>
    {
        public override Task Completion => reader.Channel.Reader.Completion;

        public override bool TryRead(out ReadOnlyMemory<byte> item)
        {
            if (!reader.Channel.Reader.TryRead(out item))
            {
                return false;
            }

            Interlocked.Add(ref reader.Behind, -item.Length);
            return true;
        }

        public override ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default) =>
            reader.Channel.Reader.WaitToReadAsync(cancellationToken);
    }
}

/// <summary>An attached console reader fell too far behind and was detached.</summary>
public sealed class ConsoleOverrunException(int limit)
    : Exception($"console reader fell more than {limit} bytes behind and was detached; attach again (the ring keeps the latest output)");
