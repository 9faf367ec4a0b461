using ActorVmm.Actors.Endpoints;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using ActorVmm.Kvm.Timing;
using BusMap = ActorVmm.Actors.Bus.Bus;

namespace ActorVmm.Actors.Tracing;

/// <summary>
/// Exit statistics and tracing of one VM. Give it to the VM through <see cref="Vm.VmBlueprint.Tracer"/>; each vCPU
/// gets a <see cref="VcpuTracer"/> (its own statistics, its own bounded lock-free <see cref="ExitRing"/>), devices
/// and interrupt lines report through <see cref="ITraceSink"/> (a bounded <see cref="Channel{T}"/>, any thread).
/// With a writer, one dedicated thread drains the rings and the channel into the file in batches; when it falls
/// behind, events are dropped and counted — a vCPU never waits for tracing.
/// Read <see cref="Statistics"/> and call <see cref="CompleteAsync"/> once the VM has stopped.
/// </summary>
public sealed class VmTracer : ITraceSink, IAsyncDisposable
{
    /// <summary>Records the writer takes from one ring before looking at the others.</summary>
    private const int DrainBatch = 4096;

    /// <summary>How long the writer sleeps when every buffer is empty (a 64 Ki-event ring lasts 10 ms at 6.5 M exits/s).</summary>
    private const int IdleWaitMs = 10;

    private readonly Lock _sync = new();
    private readonly List<ExitStatistics> _vcpuStats = [];
    private readonly List<VcpuTracer> _vcpus = [];
    private readonly ConcurrentDictionary<(ulong Gsi, string Device), StrongBox<long>> _interrupts = new();
    private readonly ConcurrentDictionary<(string Device, string Kind), StrongBox<long>> _deviceEventCounts = new();
    private readonly Channel<TraceEvent>? _deviceEvents;
    private readonly ITraceEventWriter? _writer;
    private readonly int _buffer;
    private readonly double _nsPerTick = CycleClock.NanosecondsPerTick;
    // No spinning before the writer sleeps: it wakes every IdleWaitMs anyway, and a spin takes a CPU from the vCPUs.
    private readonly ManualResetEventSlim _wake = new(false, spinCount: 0);
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Thread? _writerThread;
    private (ExitRing Ring, int Vcpu)[] _rings = [];
    private string[] _deviceNames = [TraceNames.NoDevice, TraceNames.Unclaimed];
    private long _deviceDropped;
    private volatile bool _stopping;
    private volatile bool _paused;
    private int _completed;

    /// <param name="statistics">Keep counters and latency histograms.</param>
    /// <param name="writer">Where trace events go; null for none.</param>
    /// <param name="buffer">Events each vCPU ring (and the device channel) holds before dropping.</param>
    /// <param name="latencySampleInterval">
    /// Time about one exit in this many (counts stay exact); null: every exit, unless only statistics are kept and
    /// a clock read is dear here (over <see cref="SlowClockNs"/>, or QEMU TCG), then <see cref="SlowClockSampleInterval"/>.
    /// A trace to a file times every exit (each event has its start and duration).
    /// </param>
    public VmTracer(bool statistics, ITraceEventWriter? writer = null, int buffer = 65536, int? latencySampleInterval = null)
    {
        StatisticsEnabled = statistics;
        LatencySampleInterval = writer is not null ? 1
            : Math.Max(1, latencySampleInterval ?? (ClockIsDear ? SlowClockSampleInterval : 1));
        _writer = writer;
        _buffer = Math.Max(1, buffer);
        OriginTicks = CycleClock.Now();
        if (writer is not null)
        {
            _deviceEvents = Channel.CreateBounded<TraceEvent>(
                new BoundedChannelOptions(_buffer)
                {
                    FullMode = BoundedChannelFullMode.DropWrite,
                    SingleReader = true,
                    SingleWriter = false,
                    AllowSynchronousContinuations = false,
                },
                _ => Interlocked.Increment(ref _deviceDropped));
            _writerThread = new Thread(WriterMain) { Name = "actorvmm-trace", IsBackground = true };
            _writerThread.Start();
        }
        else
        {
            _drained.SetResult();
        }
    }

    /// <summary>A clock read slower than this (ns) makes statistics-only tracing sample latency.</summary>
    public const double SlowClockNs = 250;

    /// <summary>The sampling interval statistics-only tracing uses on a slow clock.</summary>
    public const int SlowClockSampleInterval = 16;

    /// <summary>
    /// Whether a clock read costs enough here that statistics-only tracing samples latency: over
    /// <see cref="SlowClockNs"/> in a tight loop, or under QEMU TCG at any price. There a read right after a world
    /// switch also pays the emulator's TLB refills: on the one-vCPU nested runner a read measured ~90 ns in a loop,
    /// yet timing every exit cost 4-7% of the exit rate, against 0.1% timing one exit in 16.
    /// </summary>
    private static bool ClockIsDear => CycleClock.ReadCostNanoseconds > SlowClockNs || CycleClock.UnderQemuTcg();

    public bool StatisticsEnabled { get; }

    /// <summary>1: every exit is timed; N: about one exit in N is (exits are all counted either way).</summary>
    public int LatencySampleInterval { get; }

    public bool TracingEnabled => _writer is not null;

    /// <summary>
    /// While true, vCPUs handle exits as with tracing off — no clock reads, nothing counted or recorded — until it
    /// is set false again; device events and interrupts are still recorded. For tracing part of a run, and for
    /// measuring what tracing costs against the same running guest (<c>bench kvm-exits --interleaved</c>).
    /// </summary>
    public bool Paused
    {
        get => _paused;
        set
        {
            lock (_sync)
            {
                _paused = value;
                foreach (var vcpu in _vcpus)
                {
                    vcpu.Paused = value;
                }
            }
        }
    }

    /// <summary><see cref="CycleClock"/> timestamp all event times are relative to.</summary>
    public long OriginTicks { get; }

    /// <summary>Trace events dropped so far because the writer fell behind.</summary>
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

    /// <summary>The tracer for vCPU <paramref name="vcpu"/>'s thread (one per vCPU; <paramref name="bus"/> names devices).</summary>
    public VcpuTracer ForVcpu(int vcpu, BusMap? bus)
    {
        var stats = StatisticsEnabled ? new ExitStatistics() : null;
        var ring = _writer is not null ? new ExitRing(_buffer) : null;
        lock (_sync)
        {
            if (ring is not null)
            {
                _rings = [.. _rings, (ring, vcpu)];
            }

            if (stats is not null)
            {
                _vcpuStats.Add(stats);
            }

            var tracer = new VcpuTracer(this, vcpu, bus, ring, stats, _paused, LatencySampleInterval);
            _vcpus.Add(tracer);
            return tracer;
        }
    }

    public void Interrupt(uint gsi, string device)
    {
        if (StatisticsEnabled)
        {
            Interlocked.Increment(ref _interrupts.GetOrAdd((gsi, device), static _ => new StrongBox<long>()).Value);
        }

        _deviceEvents?.Writer.TryWrite(new TraceEvent
        {
            Kind = TraceEventKind.Interrupt,
            TimeNs = Now(),
            Vcpu = -1,
            Address = gsi,
            Device = device,
        });
    }

    public void Fault(string device, string kind) => DeviceEvent(TraceEventKind.Fault, device, kind);

    public void Restart(string device) => DeviceEvent(TraceEventKind.Restart, device, "restart");

    /// <summary>
    /// All statistics merged (vCPUs and devices). Exact once the vCPU threads have stopped (each flushes its
    /// buffered handling times when its loop ends; see <see cref="VcpuTracer.Flush"/>).
    /// </summary>
    public ExitStatistics Statistics()
    {
        var merged = new ExitStatistics();
        lock (_sync)
        {
            foreach (var stats in _vcpuStats)
            {
                merged.Merge(stats);
            }
        }

        foreach (var (key, n) in _interrupts)
        {
            merged.Interrupts[key] = merged.Interrupts.GetValueOrDefault(key) + Interlocked.Read(ref n.Value);
        }

        foreach (var (key, n) in _deviceEventCounts)
        {
            merged.DeviceEvents[key] = merged.DeviceEvents.GetValueOrDefault(key) + Interlocked.Read(ref n.Value);
        }

        merged.Dropped = Dropped;
        merged.LatencySampleInterval = LatencySampleInterval;
        merged.ClockReadNs = CycleClock.ReadCostNanoseconds;
        return merged;
    }

    /// <summary>Drains what is buffered, writes the trailer and closes the file. Call once the VM has stopped.</summary>
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
            // The writer thread drains what is left, then finishes and closes the file.
            await _drained.Task.ConfigureAwait(false);
        }
        finally
        {
            _wake.Dispose();
        }
    }

    public async ValueTask DisposeAsync() => await CompleteAsync().ConfigureAwait(false);

    /// <summary>Nanoseconds per <see cref="CycleClock"/> tick (fixed for the tracer's life).</summary>
    internal double NanosecondsPerTick => _nsPerTick;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal long ToNs(long ticks) => (long)(ticks * _nsPerTick);

    /// <summary>The index of <paramref name="device"/> in the trace's name table (added on first use; off the hot path).</summary>
    internal int DeviceIndex(string device)
    {
        lock (_sync)
        {
            var names = _deviceNames;
            for (var i = 0; i < names.Length; i++)
            {
                if (ReferenceEquals(names[i], device) || names[i] == device)
                {
                    return i;
                }
            }

            _deviceNames = [.. names, device];
            return names.Length;
        }
    }

    private long Now() => ToNs(CycleClock.Now() - OriginTicks);

    private void DeviceEvent(TraceEventKind kind, string device, string detail)
    {
        if (StatisticsEnabled)
        {
            Interlocked.Increment(ref _deviceEventCounts.GetOrAdd((device, detail), static _ => new StrongBox<long>()).Value);
        }

        _deviceEvents?.Writer.TryWrite(new TraceEvent
        {
            Kind = kind,
            TimeNs = Now(),
            Vcpu = -1,
            Device = device,
            Detail = detail,
        });
    }

    private TraceEvent ToEvent(in ExitRecord r, int vcpu, string[] names) => new()
    {
        Kind = r.Kind,
        TimeNs = ToNs(r.StartTicks - OriginTicks),
        Vcpu = vcpu,
        Address = r.Address,
        RangeStart = r.RangeStart,
        Size = r.Size,
        Count = r.Count,
        Value = r.Value,
        Device = (uint)r.Device < (uint)names.Length ? names[r.Device] : TraceNames.NoDevice,
        Path = r.Path,
        QueuedNs = ToNs(r.QueuedTicks),
        DurationNs = ToNs(r.DurationTicks),
    };

    /// <summary>The writer thread: drains every ring and the device channel in turn, then sleeps <see cref="IdleWaitMs"/> unless one had a backlog.</summary>
    private void WriterMain()
    {
        var writer = _writer!;
        Exception? failure = null;
        // Background work: it must never take a CPU from a vCPU thread (it falls behind and drops instead).
        ActorVmm.Kvm.Host.ThreadScheduling.TryRunCurrentThreadWhenIdle();
        try
        {
            while (true)
            {
                var stopping = _stopping;
                var any = false;
                var backlog = false;
                foreach (var (ring, vcpu) in Volatile.Read(ref _rings))
                {
                    var n = DrainRing(writer, ring, vcpu);
                    any |= n > 0;
                    backlog |= n == DrainBatch;
                    ring.PrepareAhead();
                }

                var events = 0;
                for (; events < DrainBatch && _deviceEvents!.Reader.TryRead(out var e); events++)
                {
                    writer.Write(in e);
                }

                any |= events > 0;
                backlog |= events == DrainBatch;
                // Work in bursts: go on at once only with a backlog (or to empty the buffers when stopping). Chasing
                // each new record as it arrives would keep this thread awake all the time for a few records per pass,
                // on a CPU a vCPU or a device actor may need (a ring holds far more than IdleWaitMs of exits).
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

            writer.FinishAsync(Dropped).AsTask().GetAwaiter().GetResult();
        }
        catch (Exception e)
        {
            failure = e;
        }
        finally
        {
            try
            {
                writer.DisposeAsync().AsTask().GetAwaiter().GetResult();
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
    private int DrainRing(ITraceEventWriter writer, ExitRing ring, int vcpu)
    {
        var n = Math.Min(ring.Available(out var head), DrainBatch);
        if (n <= 0)
        {
            return 0;
        }

        var names = Volatile.Read(ref _deviceNames);
        for (var i = 0; i < n; i++)
        {
            ref readonly var r = ref ring.At(head + i);
            if ((uint)r.Device >= (uint)names.Length)
            {
                names = Volatile.Read(ref _deviceNames);
            }

            writer.Write(ToEvent(in r, vcpu, names));
            if ((i & 63) == 63)
            {
                ring.Release(head + i + 1);
            }
        }

        ring.Release(head + n);
        return n;
    }
}
