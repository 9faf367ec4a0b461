using System.Collections.Concurrent;

namespace ActorVmm.Actors.Irq;

/// <summary>
/// An interrupt controller in memory, for tests and benchmarks: it records edges and levels per GSI, and
/// <see cref="Eoi"/> plays the guest's end-of-interrupt (re-asserting a level line that is still high).
/// </summary>
public sealed class InMemoryIrqChip : IIrqChipBackend
{
    private readonly ConcurrentDictionary<uint, Line> _lines = new();

    public IIrqLineBackend CreateLine(uint gsi, bool level)
    {
        var line = new Line(gsi, level);
        if (!_lines.TryAdd(gsi, line))
        {
            throw new InvalidOperationException($"GSI {gsi} already has a line");
        }

        return line;
    }

    public bool HasLine(uint gsi) => _lines.ContainsKey(gsi);

    /// <summary>Interrupts delivered on <paramref name="gsi"/> (edges, assertions, re-assertions after EOI).</summary>
    public long Delivered(uint gsi) => _lines.TryGetValue(gsi, out var l) ? l.Delivered : 0;

    public bool IsAsserted(uint gsi) => _lines.TryGetValue(gsi, out var l) && l.Asserted;

    public bool IsDisposed(uint gsi) => _lines.TryGetValue(gsi, out var l) && l.Disposed;

    /// <summary>The guest's EOI: a level line still held high fires again.</summary>
    public void Eoi(uint gsi)
    {
        if (_lines.TryGetValue(gsi, out var l))
        {
            l.Resample();
        }
    }

    private sealed class Line(uint gsi, bool level) : IIrqLineBackend
    {
        private long _delivered;
        private volatile bool _asserted;
        private volatile bool _disposed;

        public uint Gsi { get; } = gsi;

        public bool IsLevel { get; } = level;

        public long Delivered => Interlocked.Read(ref _delivered);

        public bool Asserted => _asserted;

        public bool Disposed => _disposed;

        public void Trigger()
        {
            if (!_disposed)
            {
                Interlocked.Increment(ref _delivered);
            }
        }

        public void SetLevel(bool asserted)
        {
            if (_disposed)
            {
                return;
            }

            _asserted = asserted;
            if (asserted)
            {
                Interlocked.Increment(ref _delivered);
            }
        }

        public void Resample()
        {
            if (!_disposed && IsLevel && _asserted)
            {
                Interlocked.Increment(ref _delivered);
            }
        }

        public void Dispose() => _disposed = true;
    }
}
