using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using ActorVmm.Actors.Bus;
using ActorVmm.Actors.Endpoints;
using ActorVmm.Kvm;
using BusMap = ActorVmm.Actors.Bus.Bus;

namespace ActorVmm.Actors.Tracing;

/// <summary>
/// The per-vCPU half of a <see cref="VmTracer"/>, used only on that vCPU's thread. Per exit it finds the (kind,
/// address)'s route in a small cache held inside this object (device, range, statistics cell: resolved once),
/// notes the handling time in a small buffer, also inside this object, that goes into the statistics cells every
/// <see cref="PendingCapacity"/> exits (no locks, no allocation), and, when tracing to a file, writes a reference-free
/// <see cref="ExitRecord"/> into its own bounded <see cref="ExitRing"/> (full: dropped and counted, never waits).
/// The per-exit state sits in one object so the exit path touches few pages.
/// The vCPU thread calls <see cref="Flush"/> when its loop ends, so statistics are exact once the VM has stopped.
/// </summary>
public sealed class VcpuTracer
{
    private const int RouteSlots = 64;

    /// <summary>Handling times buffered before they go into the statistics cells.</summary>
    internal const int PendingCapacity = 128;

    /// <summary>The buffered "handling time" of an exit that was counted but not timed.</summary>
    private const long Untimed = -1;

    private readonly VmTracer _owner;
    private readonly BusMap? _bus;
    private readonly ExitRing? _ring;
    private readonly ExitStatistics? _stats;
    private readonly double _nsPerTick;
    private readonly LatencyCell?[] _cells = new LatencyCell?[RouteSlots];
    private RouteTable _routes;
    private PendingTable _pending;
    private int _pendingCount;
    private PostedAccessInfo? _postedInfo;
    private volatile bool _paused;
    private readonly int _sampleInterval;
    private int _countdown = 1;
    private uint _random;

    internal VcpuTracer(VmTracer owner, int vcpu, BusMap? bus, ExitRing? ring, ExitStatistics? stats, bool paused, int sampleInterval = 1)
    {
        _sampleInterval = Math.Max(1, sampleInterval);
        _random = 0x9E3779B9u ^ (uint)(vcpu + 1) * 0x85EBCA6Bu;
        _owner = owner;
        Vcpu = vcpu;
        _bus = bus;
        _ring = ring;
        _stats = stats;
        _nsPerTick = owner.NanosecondsPerTick;
        _paused = paused;
    }

    public int Vcpu { get; }

    /// <summary>Whether the VM's tracer is paused (<see cref="VmTracer.Paused"/>): handle the exit untraced.</summary>
    public bool Paused
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _paused;
        internal set => _paused = value;
    }

    /// <summary>
    /// Binds to the calling thread (the vCPU thread calls it when its loop starts; otherwise the first
    /// <see cref="BeginExit"/> does): where the thread's device endpoints report posted accesses.
    /// </summary>
    public void BindToCurrentThread() => _postedInfo = PostedAccessInfo.Current;

    /// <summary>
    /// Whether to time the next exit: always, unless the VM's tracer samples latency (a slow clock), then about one
    /// exit in <see cref="VmTracer.LatencySampleInterval"/>, at random intervals (so a periodic guest pattern cannot
    /// line up with the sampling). An exit not timed is handled, then recorded with <see cref="ExitUntimed"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TimeNext()
    {
        if (--_countdown > 0)
        {
            return false;
        }

        _countdown = _sampleInterval == 1 ? 1 : NextInterval();
        return true;
    }

    /// <summary>Counts one handled exit that was not timed (see <see cref="TimeNext"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void ExitUntimed(in VmExit exit)
    {
        var kind = KindOf(exit.Kind);
        Note(Untimed, Slot(kind, AddressOf(exit, kind)));
    }

    /// <summary>Uniform in 1 .. 2N-1 (mean N), from a per-vCPU xorshift generator.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private int NextInterval()
    {
        var x = _random;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        _random = x;
        return 1 + (int)(x % (uint)(2 * _sampleInterval - 1));
    }

    /// <summary>Call right before an exit is handled.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void BeginExit() => (_postedInfo ??= PostedAccessInfo.Current).Posted = false;

    /// <summary>
    /// Records one handled exit. <paramref name="data"/> is the exit's data after handling (read values filled in);
    /// <paramref name="startTicks"/>/<paramref name="endTicks"/> are <see cref="ActorVmm.Kvm.Timing.CycleClock"/> timestamps around the handling.
    /// Inlined into the vCPU loop; the statistics path makes no calls but the ones that batch.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Exit(in VmExit exit, ReadOnlySpan<byte> data, long startTicks, long endTicks)
    {
        var kind = KindOf(exit.Kind);
        var address = AddressOf(exit, kind);
        var slot = Slot(kind, address);
        var durationTicks = endTicks - startTicks;
        Note(durationTicks, slot);
        if (_ring is not null)
        {
            Record(in exit, data, startTicks, durationTicks, kind, address, slot);
        }
    }

    /// <summary>The trace record of one exit, into the ring.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Record(in VmExit exit, ReadOnlySpan<byte> data, long startTicks, long durationTicks, TraceEventKind kind, ulong address, int slot)
    {
        ref readonly var route = ref _routes[slot];
        var path = route.Path;
        long queuedTicks = 0;
        var posted = _postedInfo;
        if (path == AccessPath.Inline && posted is not null && posted.Posted)
        {
            path = AccessPath.Posted;
            queuedTicks = posted.QueuedTicks;
        }

        _ring!.TryWrite(new ExitRecord
        {
            StartTicks = startTicks,
            DurationTicks = durationTicks,
            QueuedTicks = queuedTicks,
            Address = address,
            RangeStart = route.RangeStart,
            Value = kind.IsAccess() ? FirstBytes(data) : 0,
            Count = exit.Count > 1 ? exit.Count : 1,
            Device = route.DeviceIndex,
            Kind = kind,
            Path = path,
            Size = (byte)Math.Clamp(exit.Size, 0, 255),
        });
    }

    /// <summary>Moves the buffered handling times into the statistics cells. On the vCPU thread only.</summary>
    public void Flush()
    {
        var n = _pendingCount;
        _pendingCount = 0;
        for (var i = 0; i < n; i++)
        {
            var pending = _pending[i];
            var cell = _cells[pending.Slot];
            if (pending.Ticks == Untimed)
            {
                cell?.RecordUntimed();
            }
            else
            {
                cell?.Record(ToNs(pending.Ticks));
            }
        }
    }

    /// <summary>
    /// The trace kind of an exit kind: the exit kinds (IoIn .. Unknown) and the first trace kinds (PioIn .. Unknown)
    /// are the same list in the same order, so this is a range check, not a switch (a jump table is an indirect jump).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TraceEventKind KindOf(VmExitKind kind) =>
        (uint)kind <= (uint)VmExitKind.Unknown ? (TraceEventKind)(byte)kind : TraceEventKind.Unknown;

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
    private long ToNs(long ticks) => (long)(ticks * _nsPerTick);

    /// <summary>What an exit is about: its port (PIO), its address (MMIO) or its detail (other exits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong AddressOf(in VmExit exit, TraceEventKind kind) =>
        kind <= TraceEventKind.PioOut ? exit.Port : kind <= TraceEventKind.MmioWrite ? exit.Address : exit.Detail;

    /// <summary>The route cache slot that holds (kind, address), resolved into it on a miss.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Slot(TraceEventKind kind, ulong address)
    {
        var slot = (int)(((address * 0x9E3779B97F4A7C15UL) >> 58) ^ (ulong)kind) & (RouteSlots - 1);
        if (!_routes[slot].Matches(kind, address))
        {
            Resolve(slot, kind, address);
        }

        return slot;
    }

    /// <summary>Buffers one handling time (or <see cref="Untimed"/>) for the slot's statistics cell.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Note(long ticks, int slot)
    {
        if (_stats is null)
        {
            return;
        }

        _pending[_pendingCount] = new Pending(ticks, slot);
        if (++_pendingCount == PendingCapacity)
        {
            Flush();
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Resolve(int slot, TraceEventKind kind, ulong address)
    {
        // Buffered times still point at this slot's old cell.
        Flush();
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

        _routes[slot] = new RouteEntry(address, rangeStart, _owner.DeviceIndex(device), kind, path);
        _cells[slot] = _stats?.CellFor(Vcpu, kind, device, rangeStart);
    }

    /// <summary>
    /// What the tracer remembers about one (exit kind, address): the start of the range of the device that claims
    /// it, the device name's index in the trace, and the access path. The bus is fixed once the VM runs, so this is
    /// resolved once and then found here instead of a bus lookup and a dictionary lookup per exit.
    /// </summary>
    private readonly struct RouteEntry(ulong address, ulong rangeStart, int deviceIndex, TraceEventKind kind, AccessPath path)
    {
        public readonly ulong Address = address;
        public readonly ulong RangeStart = rangeStart;
        public readonly int DeviceIndex = deviceIndex;
        public readonly TraceEventKind Kind = kind;

        /// <summary>Inline for claimed addresses (the exit turns Posted when the endpoint says so), Unclaimed, or None.</summary>
        public readonly AccessPath Path = path;
        public readonly bool Used = true;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public bool Matches(TraceEventKind kind, ulong address) => Address == address && Kind == kind && Used;
    }

    /// <summary>One buffered handling time and the route slot whose cell it belongs to.</summary>
    private readonly record struct Pending(long Ticks, int Slot);

    [InlineArray(RouteSlots)]
    private struct RouteTable
    {
        private RouteEntry _first;
    }

    [InlineArray(PendingCapacity)]
    private struct PendingTable
    {
        private Pending _first;
    }
}
