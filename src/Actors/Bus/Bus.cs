using ActorVmm.Actors.Endpoints;

namespace ActorVmm.Actors.Bus;

/// <summary>
/// The PIO and MMIO buses of one VM: address ranges to device endpoints. Immutable once built (see
/// <see cref="BusBuilder"/>), so vCPU threads read it without locks. Lookup is a binary search over a sorted
/// array of range starts. Accesses no device claims never throw: reads fill all-ones, writes are dropped, and
/// both are counted per space in <see cref="PioStats"/> / <see cref="MmioStats"/>.
/// </summary>
public sealed class Bus
{
    private readonly Space _pio;
    private readonly Space _mmio;

    internal Bus(IReadOnlyList<(BusRange Range, DeviceEndpoint Endpoint)> pio, IReadOnlyList<(BusRange Range, DeviceEndpoint Endpoint)> mmio)
    {
        _pio = new Space(pio);
        _mmio = new Space(mmio);
    }

    public BusStats PioStats => _pio.Stats;

    public BusStats MmioStats => _mmio.Stats;

    public BusStats StatsFor(BusSpace space) => space == BusSpace.Pio ? _pio.Stats : _mmio.Stats;

    /// <summary>Every mapping, sorted by space and start.</summary>
    public IReadOnlyList<(BusRange Range, DeviceEndpoint Endpoint)> Mappings =>
        [.. _pio.Mappings, .. _mmio.Mappings];

    /// <summary>The endpoint claiming <paramref name="address"/> and the offset inside its range, or null.</summary>
    public DeviceEndpoint? Resolve(BusSpace space, ulong address, out ulong offset) =>
        (space == BusSpace.Pio ? _pio : _mmio).Resolve(address, out offset);

    /// <summary>One guest read of <c>data.Length</c> (1..8) bytes; fills <paramref name="data"/>. Never throws.</summary>
    public void Read(BusSpace space, ulong address, Span<byte> data)
    {
        var s = space == BusSpace.Pio ? _pio : _mmio;
        if (data.Length is 0 or > 8)
        {
            s.Stats.CountBadSize();
            data.Fill(0xff);
            return;
        }

        var endpoint = s.Resolve(address, out var offset);
        if (endpoint is null)
        {
            s.Stats.CountUnclaimedRead();
            data.Fill(0xff);
            return;
        }

        endpoint.Read(offset, data);
    }

    /// <summary>One guest write of <c>data.Length</c> (1..8) bytes. Never throws.</summary>
    public void Write(BusSpace space, ulong address, ReadOnlySpan<byte> data)
    {
        var s = space == BusSpace.Pio ? _pio : _mmio;
        if (data.Length is 0 or > 8)
        {
            s.Stats.CountBadSize();
            return;
        }

        var endpoint = s.Resolve(address, out var offset);
        if (endpoint is null)
        {
            s.Stats.CountUnclaimedWrite();
            return;
        }

        endpoint.Write(offset, data);
    }

    private sealed class Space
    {
        private readonly ulong[] _starts;
        private readonly ulong[] _lasts;
        private readonly DeviceEndpoint[] _endpoints;

        public Space(IReadOnlyList<(BusRange Range, DeviceEndpoint Endpoint)> sorted)
        {
            _starts = new ulong[sorted.Count];
            _lasts = new ulong[sorted.Count];
            _endpoints = new DeviceEndpoint[sorted.Count];
            for (var i = 0; i < sorted.Count; i++)
            {
                _starts[i] = sorted[i].Range.Start;
                _lasts[i] = sorted[i].Range.Last;
                _endpoints[i] = sorted[i].Endpoint;
            }

            Mappings = sorted;
        }

        public BusStats Stats { get; } = new();

        public IReadOnlyList<(BusRange Range, DeviceEndpoint Endpoint)> Mappings { get; }

        public DeviceEndpoint? Resolve(ulong address, out ulong offset)
        {
            // Greatest start <= address, then check the end.
            int lo = 0, hi = _starts.Length - 1, found = -1;
            while (lo <= hi)
            {
                var mid = (lo + hi) >>> 1;
                if (_starts[mid] <= address)
                {
                    found = mid;
                    lo = mid + 1;
                }
                else
                {
                    hi = mid - 1;
                }
            }

            if (found >= 0 && address <= _lasts[found])
            {
                offset = address - _starts[found];
                return _endpoints[found];
            }

            offset = 0;
            return null;
        }
    }
}
