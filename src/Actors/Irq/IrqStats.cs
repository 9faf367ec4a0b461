using System.Collections.Concurrent;

namespace ActorVmm.Actors.Irq;

/// <summary>Interrupts raised per GSI (edges, level assertions and re-assertions after EOI), for tracing.</summary>
public sealed class IrqStats
{
    private readonly ConcurrentDictionary<uint, GsiCounter> _counters = new();

    /// <summary>Interrupts raised on <paramref name="gsi"/> so far.</summary>
    public long Raised(uint gsi) => _counters.TryGetValue(gsi, out var c) ? c.Value : 0;

    public IReadOnlyDictionary<uint, long> Snapshot() => _counters.ToDictionary(kv => kv.Key, kv => kv.Value.Value);

    internal GsiCounter For(uint gsi) => _counters.GetOrAdd(gsi, _ => new GsiCounter());

    internal sealed class GsiCounter
    {
        private long _value;

        public long Value => Interlocked.Read(ref _value);

        public void Increment() => Interlocked.Increment(ref _value);
    }
}
