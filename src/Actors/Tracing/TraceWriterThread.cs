using System.Threading.Channels;

namespace ActorVmm.Actors.Tracing;

/// <summary>
/// The writer side of a <see cref="VmTracer"/> with a trace file: the vCPU rings and a bounded channel of device
/// events, drained in batches by one dedicated background thread into the <see cref="ITraceEventWriter"/>. When it
/// falls behind, events are dropped and counted; producers never wait.
/// </summary>
internal sealed class TraceWriterThread
{
    /// <summary>Records the writer takes from one ring before looking at the others.</summary>
    private const int DrainBatch = 4096;

    /// <summary>How long the writer sleeps when every buffer is empty.</summary>
    private const int IdleWaitMs = 10;

    private readonly VmTracer _tracer;
    private readonly ITraceEventWriter _writer;
    private readonly Channel<TraceEvent> _deviceEvents;
    // No spinning before the writer sleeps: it wakes every IdleWaitMs anyway, and a spin takes a CPU from the vCPUs.
    private readonly ManualResetEventSlim _wake = new(false, spinCount: 0);
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Thread _thread;
    private (ExitRing Ring, int Vcpu)[] _rings = [];
    private long _deviceDropped;
    private volatile bool _stopping;
    private int _completed;

    /// <summary>Starts the writer thread; <paramref name="buffer"/> bounds the device event channel.</summary>
    public TraceWriterThread(VmTracer tracer, ITraceEventWriter writer, int buffer)
    {
        _tracer = tracer;
        _writer = writer;
        _deviceEvents = Channel.CreateBounded<TraceEvent>(
            new BoundedChannelOptions(buffer)
            {
                FullMode = BoundedChannelFullMode.DropWrite,
                SingleReader = true,
                SingleWriter = false,
                AllowSynchronousContinuations = false,
            },
            _ => Interlocked.Increment(ref _deviceDropped));
        _thread = new Thread(WriterMain) { Name = "actorvmm-trace", IsBackground = true };
        _thread.Start();
    }

    /// <summary>Events dropped so far, from the rings and the device channel.</summary>
    public long Dropped
    {
        get
        {
            var dropped = Interlocked.Read(ref _deviceDropped);
            foreach (var (ring, _) in Volatile.Read(ref _rings))
            {
                dropped += ring.Dropped;
            }

            return dropped;
        }
    }

    /// <summary>Adds a vCPU's ring to those drained; callers serialize calls.</summary>
    public void AddRing(ExitRing ring, int vcpu) => _rings = [.. _rings, (ring, vcpu)];

    /// <summary>Queues a device event; dropped and counted when the channel is full.</summary>
    public void Write(TraceEvent e) => _deviceEvents.Writer.TryWrite(e);

    /// <summary>Drains what is buffered, writes the trailer and closes the file; later calls await the same end.</summary>
    public async Task CompleteAsync()
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0)
        {
            await _drained.Task.ConfigureAwait(false);
            return;
        }

        _stopping = true;
        _wake.Set();
        try
        {
            await _drained.Task.ConfigureAwait(false);
        }
        finally
        {
            _wake.Dispose();
        }
    }

    /// <summary>Drains every ring and the device channel in turn, then sleeps <see cref="IdleWaitMs"/> unless one had a backlog.</summary>
    private void WriterMain()
    {
        Exception? failure = null;
        // Background work: it must never take a CPU from a vCPU thread (it falls behind and drops instead).
        ActorVmm.Kvm.Linux.ThreadScheduling.TryRunCurrentThreadWhenIdle();
        try
        {
            while (true)
            {
                var stopping = _stopping;
                var any = false;
                var backlog = false;
                foreach (var (ring, vcpu) in Volatile.Read(ref _rings))
                {
                    var n = DrainRing(ring, vcpu);
                    any |= n > 0;
                    backlog |= n == DrainBatch;
                    ring.PrepareAhead();
                }

                var events = 0;
                for (; events < DrainBatch && _deviceEvents.Reader.TryRead(out var e); events++)
                {
                    _writer.Write(in e);
                }

                any |= events > 0;
                backlog |= events == DrainBatch;
                // Work in bursts: go on at once only with a backlog (or to empty the buffers when stopping), so the
                // thread is not kept awake for a few records per pass on a CPU a vCPU may need.
                if (backlog || (stopping && any))
                {
                    continue;
                }

                if (stopping)
                {
                    break;
                }

                _wake.Wait(IdleWaitMs);
            }

            _writer.FinishAsync(Dropped).AsTask().GetAwaiter().GetResult();
        }
        catch (Exception e)
        {
            failure = e;
        }
        finally
        {
            try
            {
                _writer.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
            catch (Exception e) when (failure is null)
            {
                failure = e;
            }

            if (failure is null)
            {
                _drained.TrySetResult();
            }
            else
            {
                _drained.TrySetException(failure);
            }
        }
    }

    /// <summary>Writes up to <see cref="DrainBatch"/> records in place, releasing their slots as it goes; returns how many.</summary>
    private int DrainRing(ExitRing ring, int vcpu)
    {
        var n = Math.Min(ring.Available(out var head), DrainBatch);
        if (n <= 0)
        {
            return 0;
        }

        var names = _tracer.DeviceNames;
        for (var i = 0; i < n; i++)
        {
            ref readonly var r = ref ring.At(head + i);
            if ((uint)r.Device >= (uint)names.Length)
            {
                names = _tracer.DeviceNames;
            }

            _writer.Write(ToEvent(in r, vcpu, names));
            if ((i & 63) == 63)
            {
                ring.Release(head + i + 1);
            }
        }

        ring.Release(head + n);
        return n;
    }

    private TraceEvent ToEvent(in ExitRecord r, int vcpu, string[] names) => new()
    {
        Kind = r.Kind,
        TimeNs = _tracer.ToNs(r.StartTicks - _tracer.OriginTicks),
        Vcpu = vcpu,
        Address = r.Address,
        RangeStart = r.RangeStart,
        Size = r.Size,
        Count = r.Count,
        Value = r.Value,
        Device = (uint)r.Device < (uint)names.Length ? names[r.Device] : TraceNames.NoDevice,
        Path = r.Path,
        QueuedNs = _tracer.ToNs(r.QueuedTicks),
        DurationNs = _tracer.ToNs(r.DurationTicks),
    };
}
