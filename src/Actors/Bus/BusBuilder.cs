using ActorVmm.Actors.Endpoints;

namespace ActorVmm.Actors.Bus;

/// <summary>Collects range → endpoint mappings and builds an immutable <see cref="Bus"/>, rejecting overlaps.</summary>
public sealed class BusBuilder
{
    private readonly List<(BusRange Range, DeviceEndpoint Endpoint)> _mappings = [];

    public BusBuilder Add(BusRange range, DeviceEndpoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        if (range.Length == 0)
        {
            throw new BusConflictException($"Device '{endpoint.Name}' maps an empty range at {range.Space} 0x{range.Start:x}.");
        }

        if (range.Start + (range.Length - 1) < range.Start)
        {
            throw new BusConflictException($"Device '{endpoint.Name}' maps {range.Space} 0x{range.Start:x} length 0x{range.Length:x}, which wraps the address space.");
        }

        if (range.Space == BusSpace.Pio && range.Last > ushort.MaxValue)
        {
            throw new BusConflictException($"Device '{endpoint.Name}' maps {range}, beyond the 16-bit I/O port space.");
        }

        _mappings.Add((range, endpoint));
        return this;
    }

    /// <exception cref="BusConflictException">Two ranges overlap; the message names both devices and ranges.</exception>
    public Bus Build()
    {
        List<(BusRange Range, DeviceEndpoint Endpoint)> Sorted(BusSpace space)
        {
            var list = _mappings.Where(m => m.Range.Space == space).OrderBy(m => m.Range.Start).ToList();
            for (var i = 1; i < list.Count; i++)
            {
                var (a, b) = (list[i - 1], list[i]);
                if (a.Range.Overlaps(b.Range))
                {
                    throw new BusConflictException(
                        $"Bus conflict: device '{a.Endpoint.Name}' at {a.Range} overlaps device '{b.Endpoint.Name}' at {b.Range}.");
                }
            }

            return list;
        }

        return new Bus(Sorted(BusSpace.Pio), Sorted(BusSpace.Mmio));
    }
}
