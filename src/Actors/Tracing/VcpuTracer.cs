using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using ActorVmm.Actors.Bus;
using ActorVmm.Actors.Devices;
using ActorVmm.Kvm;
using BusMap = ActorVmm.Actors.Bus.Bus;

namespace ActorVmm.Actors.Tracing;

/// <summary>
/// The per-vCPU half of a <see cref="VmTracer"/>, used only on that vCPU's thread. Per exit it finds the (kind,
/// address)'s <see cref="ExitRoute"/> in a small cache (device, range, statistics cell: resolved once), records the
/// handling time into its own <see cref="ExitStatistics"/> cell (no locks, no allocation) and, when tracing to a
/// file, writes a reference-free <see cref="ExitRecord"/> into its own bounded <see cref="ExitRing"/> (full:
/// dropped and counted, never waits).
/// </summary>
public sealed class VcpuTracer
{
    private const int RouteSlots = 64;
    private readonly VmTracer _owner;
    private readonly BusMap? _bus;
    private readonly ExitRing? _ring;
    private readonly ExitStatistics? _stats;
    private readonly ExitRoute?[] _routes = new ExitRoute?[RouteSlots];

    internal VcpuTracer(VmTracer owner, int vcpu, BusMap? bus, ExitRing? ring, ExitStatistics? stats)
    {
        _owner = owner;
        Vcpu = vcpu;
        _bus = bus;
        _ring = ring;
        _stats = stats;
    }

    public int Vcpu { get; }

    /// <summary>Whether the VM's tracer is paused (<see cref="VmTracer.Paused"/>): handle the exit untraced.</summary>
    public bool Paused
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _owner.Paused;
    }

    /// <summary>Call right before an exit is handled.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void BeginExit() => DeviceEndpoint.ResetTraceInfo();

    /// <summary>
    /// Records one handled exit. <paramref name="data"/> is the exit's data after handling (read values filled in);
    /// <paramref name="startTicks"/>/<paramref name="endTicks"/> are <see cref="ActorVmm.Kvm.Timing.CycleClock"/> timestamps around the handling.
    /// </summary>
    public void Exit(in VmExit exit, ReadOnlySpan<byte> data, long startTicks, long endTicks)
    {
        var kind = KindOf(exit.Kind);
        var access = kind.IsAccess();
        var address = access ? (kind <= TraceEventKind.PioOut ? exit.Port : exit.Address) : exit.Detail;
        var route = Route(kind, address);
        var path = route.Path;
        long queuedTicks = 0;
        if (path == AccessPath.Inline && DeviceEndpoint.TakeTraceInfo(out queuedTicks))
        {
            path = AccessPath.Posted;
        }

        var durationTicks = endTicks - startTicks;
        route.Cell?.Record(_owner.ToNs(durationTicks));
        var ring = _ring;
        if (ring is null)
        {
            return;
        }

        ring.TryWrite(new ExitRecord
        {
            StartTicks = startTicks,
            DurationTicks = durationTicks,
            QueuedTicks = queuedTicks,
            Address = address,
            RangeStart = route.RangeStart,
            Value = access ? FirstBytes(data) : 0,
            Count = exit.Count > 1 ? exit.Count : 1,
            Device = route.DeviceIndex,
            Kind = kind,
            Path = path,
            Size = (byte)Math.Clamp(exit.Size, 0, 255),
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

    /// <summary>The first (up to 8) data bytes, little-endian.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong FirstBytes(ReadOnlySpan<byte> data)
    {
        switch (data.Length)
        {
            case 0:
                return 0;
            case 1:
                return data[0];
            case 2:
                return BinaryPrimitives.ReadUInt16LittleEndian(data);
            case 4:
                return BinaryPrimitives.ReadUInt32LittleEndian(data);
            case >= 8:
                return BinaryPrimitives.ReadUInt64LittleEndian(data);
            default:
                ulong value = 0;
                for (var i = data.Length - 1; i >= 0; i--)
                {
                    value = (value << 8) | data[i];
                }

                return value;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ExitRoute Route(TraceEventKind kind, ulong address)
    {
        var slot = (int)(((address * 0x9E3779B97F4A7C15UL) >> 58) ^ (ulong)kind) & (RouteSlots - 1);
        var route = _routes[slot];
        if (route is not null && route.Address == address && route.Kind == kind)
        {
            return route;
        }

        route = Resolve(kind, address);
        _routes[slot] = route;
        return route;
    }

    private ExitRoute Resolve(TraceEventKind kind, ulong address)
    {
        var device = TraceNames.NoDevice;
        var path = AccessPath.None;
        var rangeStart = address;
        if (kind.IsAccess())
        {
            var space = kind <= TraceEventKind.PioOut ? BusSpace.Pio : BusSpace.Mmio;
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
                path = AccessPath.Inline;
                rangeStart = address - offset;
            }
        }

        return new ExitRoute(kind, address, device, _owner.DeviceIndex(device), rangeStart, path, _stats?.CellFor(Vcpu, kind, device, rangeStart));
    }
}
