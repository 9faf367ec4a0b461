using ActorVmm.Actors.Endpoints;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using ActorVmm.Kvm.Timing;
using BusMap = ActorVmm.Actors.Bus.Bus;

namespace ActorVmm.Actors.Tracing;

/// <summary>
/// Exit statistics and tracing of one VM. Give it to the VM through <see cref="Vm.VmBlueprint.Tracer"/>; each vCPU
/// gets a <see cref="VcpuTracer"/> (its own statistics, its own bounded lock-free <see cref="ExitRing"/>), devices
/// and interrupt lines report through <see cref="ITraceSink"/> (any thread). With a writer, a
/// <see cref="TraceWriterThread"/> drains them into the file; when it falls behind, events are dropped and counted —
/// a vCPU never waits for tracing. Read <see cref="Statistics"/> and call <see cref="CompleteAsync"/> once the VM
/// has stopped.
/// </summary>
public sealed class VmTracer : ITraceSink, IAsyncDisposable
{
    private readonly Lock _sync = new();
    private readonly List<ExitStatistics> _vcpuStats = [];
    private readonly List<VcpuTracer> _vcpus = [];
    private readonly ConcurrentDictionary<(ulong Gsi, string Device), StrongBox<long>> _interrupts = new();
    private readonly ConcurrentDictionary<(string Device, string Kind), StrongBox<long>> _deviceEventCounts = new();
    private readonly TraceWriterThread? _writer;
    private readonly int _buffer;
    private readonly double _nsPerTick = CycleClock.NanosecondsPerTick;
    private string[] _deviceNames = [TraceNames.NoDevice, TraceNames.Unclaimed];
    private volatile bool _paused;

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
        _buffer = Math.Max(1, buffer);
        OriginTicks = CycleClock.Now();
        _writer = writer is not null ? new TraceWriterThread(this, writer, _buffer) : null;
    }

    /// <summary>A clock read slower than this (ns) makes statistics-only tracing sample latency.</summary>
    public const double SlowClockNs = 250;

    /// <summary>The sampling interval statistics-only tracing uses on a slow clock.</summary>
    public const int SlowClockSampleInterval = 16;

    /// <summary>
    /// Whether a clock read costs enough that statistics-only tracing samples latency: over <see cref="SlowClockNs"/>
    /// in a tight loop, or under QEMU TCG at any price (there a read after a world switch also pays the emulator's
    /// TLB refills, so a cheap loop figure understates it).
    /// </summary>
    private static bool ClockIsDear => CycleClock.ReadCostNanoseconds > SlowClockNs || CycleClock.UnderQemuTcg();

    public bool StatisticsEnabled { get; }

    /// <summary>1: every exit is timed; N: about one exit in N is (exits are all counted either way).</summary>
    public int LatencySampleInterval { get; }

    public bool TracingEnabled => _writer is not null;

    /// <summary>
    /// While true, vCPUs handle exits as with tracing off — no clock reads, nothing counted or recorded; device events
    /// and interrupts are still recorded. For tracing part of a run, or measuring what tracing costs.
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
    public long Dropped => _writer?.Dropped ?? 0;

    /// <summary>The tracer for vCPU <paramref name="vcpu"/>'s thread (one per vCPU; <paramref name="bus"/> names devices).</summary>
    public VcpuTracer ForVcpu(int vcpu, BusMap? bus)
    {
        var stats = StatisticsEnabled ? new ExitStatistics() : null;
        var ring = _writer is not null ? new ExitRing(_buffer) : null;
        lock (_sync)
        {
            if (ring is not null)
            {
                _writer!.AddRing(ring, vcpu);
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

        _writer?.Write(new TraceEvent
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
    public Task CompleteAsync() => _writer?.CompleteAsync() ?? Task.CompletedTask;

    public async ValueTask DisposeAsync() => await CompleteAsync().ConfigureAwait(false);

    /// <summary>The trace's device name table; grows as <see cref="DeviceIndex"/> adds names.</summary>
    internal string[] DeviceNames => Volatile.Read(ref _deviceNames);

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

        _writer?.Write(new TraceEvent
        {
            Kind = kind,
            TimeNs = Now(),
            Vcpu = -1,
            Device = device,
            Detail = detail,
        });
    }
}
