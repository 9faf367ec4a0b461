using System.Buffers.Binary;
using System.Threading.Channels;
using ActorVmm.Actors.Bus;
using ActorVmm.Actors.Devices;
using ActorVmm.Kvm;
using BusMap = ActorVmm.Actors.Bus.Bus;

namespace ActorVmm.Actors.Tracing;

/// <summary>
/// The per-vCPU half of a <see cref="VmTracer"/>, used only on that vCPU's thread: statistics go straight into
/// its own <see cref="ExitStatistics"/> (no locks), events into its own bounded channel (full: dropped, counted).
/// </summary>
public sealed class VcpuTracer
{
    private readonly VmTracer _owner;
    private readonly BusMap? _bus;
    private readonly ChannelWriter<TraceEvent>? _events;
    private readonly ExitStatistics? _stats;

    internal VcpuTracer(VmTracer owner, int vcpu, BusMap? bus, ChannelWriter<TraceEvent>? events, ExitStatistics? stats)
    {
        _owner = owner;
        Vcpu = vcpu;
        _bus = bus;
        _events = events;
        _stats = stats;
    }

    public int Vcpu { get; }

    /// <summary>Call right before an exit is handled.</summary>
    public void BeginExit() => DeviceEndpoint.ResetTraceInfo();

    /// <summary>
    /// Records one handled exit. <paramref name="data"/> is the exit's data after handling (read values filled in);
    /// <paramref name="startTicks"/>/<paramref name="endTicks"/> are Stopwatch timestamps around the handling.
    /// </summary>
    public void Exit(in VmExit exit, ReadOnlySpan<byte> data, long startTicks, long endTicks)
    {
        var kind = KindOf(exit.Kind);
        var device = TraceNames.NoDevice;
        var path = AccessPath.None;
        ulong rangeStart = 0;
        long queuedTicks = 0;
        if (kind.IsAccess())
        {
            var space = kind <= TraceEventKind.PioOut ? BusSpace.Pio : BusSpace.Mmio;
            var address = space == BusSpace.Pio ? exit.Port : exit.Address;
            ulong offset = 0;
            var endpoint = _bus?.Resolve(space, address, out offset);
            if (endpoint is null)
            {
                device = TraceNames.Unclaimed;
                path = AccessPath.Unclaimed;
                rangeStart = space == BusSpace.Pio ? address : address & ~0xfffUL;
            }
            else
            {
                device = endpoint.Name;
                rangeStart = address - offset;
                path = DeviceEndpoint.TakeTraceInfo(out queuedTicks) ? AccessPath.Posted : AccessPath.Inline;
            }
        }
        else
        {
            rangeStart = exit.Detail;
        }

        var duration = _owner.ToNs(endTicks - startTicks);
        _stats?.Record(Vcpu, kind, device, rangeStart, duration);
        if (_events is null)
        {
            return;
        }

        ulong value = 0;
        if (kind.IsAccess() && !data.IsEmpty)
        {
            Span<byte> buffer = stackalloc byte[8];
            buffer.Clear();
            data[..Math.Min(8, data.Length)].CopyTo(buffer);
            value = BinaryPrimitives.ReadUInt64LittleEndian(buffer);
        }

        _events.TryWrite(new TraceEvent
        {
            Kind = kind,
            TimeNs = _owner.ToNs(startTicks - _owner.OriginTicks),
            Vcpu = Vcpu,
            Address = kind.IsAccess() ? (kind <= TraceEventKind.PioOut ? exit.Port : exit.Address) : exit.Detail,
            RangeStart = rangeStart,
            Size = exit.Size,
            Count = Math.Max(1, exit.Count),
            Value = value,
            Device = device,
            Path = path,
            QueuedNs = _owner.ToNs(queuedTicks),
            DurationNs = duration,
        });
    }

    public static TraceEventKind KindOf(VmExitKind kind) => kind switch
    {
        VmExitKind.IoIn => TraceEventKind.PioIn,
        VmExitKind.IoOut => TraceEventKind.PioOut,
        VmExitKind.MmioRead => TraceEventKind.MmioRead,
        VmExitKind.MmioWrite => TraceEventKind.MmioWrite,
        VmExitKind.Hlt => TraceEventKind.Hlt,
        VmExitKind.Shutdown => TraceEventKind.Shutdown,
        VmExitKind.SystemEvent => TraceEventKind.SystemEvent,
        VmExitKind.InternalError => TraceEventKind.InternalError,
        VmExitKind.FailEntry => TraceEventKind.FailEntry,
        VmExitKind.Interrupted => TraceEventKind.Interrupted,
        _ => TraceEventKind.Unknown,
    };
}
