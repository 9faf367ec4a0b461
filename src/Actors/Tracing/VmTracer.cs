using System.Diagnostics;
using System.Threading.Channels;
using BusMap = ActorVmm.Actors.Bus.Bus;

namespace ActorVmm.Actors.Tracing;

/// <summary>
/// Exit statistics and tracing of one VM. Give it to the VM through <see cref="Vm.VmBlueprint.Tracer"/>; each vCPU
/// gets a <see cref="VcpuTracer"/> (its own statistics and its own bounded event channel), devices and interrupt
/// lines report through <see cref="ITraceSink"/>. With a writer, a background task drains the channels into the
/// file; when it falls behind, events are dropped and counted — a vCPU never waits for tracing.
/// Read <see cref="Statistics"/> and call <see cref="CompleteAsync"/> once the VM has stopped.
/// </summary>
public sealed class VmTracer : ITraceSink, IAsyncDisposable
{
    private readonly Lock _sync = new();
    private readonly List<(Channel<TraceEvent> Channel, ExitStatistics? Stats)> _vcpus = [];
    private readonly ExitStatistics? _deviceStats;
    private readonly Channel<TraceEvent>? _deviceEvents;
    private readonly ITraceEventWriter? _writer;
    private readonly int _buffer;
    private readonly double _nsPerTick = 1e9 / Stopwatch.Frequency;
    private readonly CancellationTokenSource _stopDraining = new();
    private readonly Task _drain = Task.CompletedTask;
    private Channel<TraceEvent>[] _channels = [];
    private long _dropped;
    private int _completed;

    /// <param name="statistics">Keep counters and latency histograms.</param>
    /// <param name="writer">Where trace events go; null for none.</param>
    /// <param name="buffer">Events each channel (one per vCPU, one for devices) holds before dropping.</param>
    public VmTracer(bool statistics, ITraceEventWriter? writer = null, int buffer = 65536)
    {
        StatisticsEnabled = statistics;
        _writer = writer;
        _buffer = Math.Max(1, buffer);
        OriginTicks = Stopwatch.GetTimestamp();
        if (statistics)
        {
            _deviceStats = new ExitStatistics();
        }

        if (writer is not null)
        {
            _deviceEvents = NewChannel();
            _channels = [_deviceEvents];
            _drain = Task.Run(DrainAsync);
        }
    }

    public bool StatisticsEnabled { get; }

    public bool TracingEnabled => _writer is not null;

    /// <summary>Stopwatch timestamp all event times are relative to.</summary>
    public long OriginTicks { get; }

    /// <summary>Trace events dropped so far because the writer fell behind.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>The tracer for vCPU <paramref name="vcpu"/>'s thread (one per vCPU; <paramref name="bus"/> names devices).</summary>
    public VcpuTracer ForVcpu(int vcpu, BusMap? bus)
    {
        var stats = StatisticsEnabled ? new ExitStatistics() : null;
        Channel<TraceEvent>? channel = null;
        if (_writer is not null)
        {
            channel = NewChannel();
        }

        lock (_sync)
        {
            if (channel is not null)
            {
                _channels = [.. _channels, channel];
            }

            _vcpus.Add((channel!, stats));
        }

        return new VcpuTracer(this, vcpu, bus, channel?.Writer, stats);
    }

    public void Interrupt(uint gsi, string device)
    {
        if (_deviceStats is not null)
        {
            lock (_deviceStats)
            {
                _deviceStats.CountInterrupt(gsi, device);
            }
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

    /// <summary>All statistics merged (vCPUs and devices). Exact once the vCPU threads have stopped.</summary>
    public ExitStatistics Statistics()
    {
        var merged = new ExitStatistics();
        lock (_sync)
        {
            foreach (var (_, stats) in _vcpus)
            {
                if (stats is not null)
                {
                    merged.Merge(stats);
                }
            }
        }

        if (_deviceStats is not null)
        {
            lock (_deviceStats)
            {
                merged.Merge(_deviceStats);
            }
        }

        merged.Dropped = Dropped;
        return merged;
    }

    /// <summary>Drains what is buffered, writes the trailer and closes the file. Call once the VM has stopped.</summary>
    public async Task CompleteAsync()
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0)
        {
            await _drain.ConfigureAwait(false);
            return;
        }

        await _stopDraining.CancelAsync().ConfigureAwait(false);
        await _drain.ConfigureAwait(false);
        if (_writer is not null)
        {
            await _writer.FinishAsync(Dropped).ConfigureAwait(false);
            await _writer.DisposeAsync().ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync() => await CompleteAsync().ConfigureAwait(false);

    internal long ToNs(long ticks) => _nsPerTick == 1.0 ? ticks : (long)(ticks * _nsPerTick);

    private long Now() => ToNs(Stopwatch.GetTimestamp() - OriginTicks);

    private void DeviceEvent(TraceEventKind kind, string device, string detail)
    {
        if (_deviceStats is not null)
        {
            lock (_deviceStats)
            {
                _deviceStats.CountDeviceEvent(device, detail);
            }
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

    private Channel<TraceEvent> NewChannel() => Channel.CreateBounded<TraceEvent>(
        new BoundedChannelOptions(_buffer)
        {
            FullMode = BoundedChannelFullMode.DropWrite,
            SingleReader = true,
            SingleWriter = false,
            AllowSynchronousContinuations = false,
        },
        _ => Interlocked.Increment(ref _dropped));

    private async Task DrainAsync()
    {
        var writer = _writer!;
        while (true)
        {
            var stopping = _stopDraining.IsCancellationRequested;
            var any = false;
            foreach (var channel in Volatile.Read(ref _channels))
            {
                // Bounded per pass so one busy vCPU cannot starve the others' channels.
                for (var i = 0; i < 4096 && channel.Reader.TryRead(out var e); i++)
                {
                    writer.Write(in e);
                    any = true;
                }
            }

            if (any)
            {
                continue;
            }

            if (stopping)
            {
                return;
            }

            try
            {
                await Task.Delay(2, _stopDraining.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // One more pass picks up what is left.
            }
        }
    }
}
