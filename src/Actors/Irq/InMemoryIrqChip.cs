using System.Collections.Concurrent;
using ActorVmm.Devices;
using ActorVmm.Kvm;

namespace ActorVmm.Actors.Irq;

/// <summary>
/// An interrupt controller in memory, for tests and benchmarks: it records edges and levels per GSI, and
/// <see cref="Eoi"/> plays the guest's end-of-interrupt (re-asserting a level line that is still high). MSI vectors
/// get GSIs from <see cref="Layout.FirstMsiGsi"/> up, as on KVM; their routes (x86 interrupt addresses only) and triggers are recorded per GSI.
/// </summary>
public sealed class InMemoryIrqChip : IIrqChipBackend, IMsiChipBackend
{
    private readonly ConcurrentDictionary<uint, Line> _lines = new();
    private readonly ConcurrentDictionary<uint, MsiMessage> _msiRoutes = new();
    private readonly ConcurrentDictionary<uint, long> _msiDelivered = new();
    private int _nextMsiGsi = (int)Layout.FirstMsiGsi;

    public IMsiVectorsBackend CreateMsiVectors(int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var first = Interlocked.Add(ref _nextMsiGsi, count) - count;
        return new MsiVectors(this, Enumerable.Range(first, count).Select(g => (uint)g).ToArray());
    }

    /// <summary>The message GSI <paramref name="gsi"/> is routed to, or null.</summary>
    public MsiMessage? MsiRoute(uint gsi) => _msiRoutes.TryGetValue(gsi, out var m) ? m : null;

    /// <summary>MSIs sent on <paramref name="gsi"/> (routed triggers).</summary>
    public long MsiDelivered(uint gsi) => _msiDelivered.GetValueOrDefault(gsi);

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

    private sealed class MsiVectors(InMemoryIrqChip chip, uint[] gsis) : IMsiVectorsBackend
    {
        private volatile bool _disposed;

        public int VectorCount => gsis.Length;

        public IReadOnlyList<uint> Gsis => gsis;

        public bool SetMessage(int vector, MsiMessage message)
        {
            if (_disposed || (uint)vector >= (uint)gsis.Length)
            {
                return false;
            }

            if (!message.IsX86Interrupt)
            {
                chip._msiRoutes.TryRemove(gsis[vector], out _);
                return false;
            }

            chip._msiRoutes[gsis[vector]] = message;
            return true;
        }

        public void ClearMessage(int vector)
        {
            if (!_disposed && (uint)vector < (uint)gsis.Length)
            {
                chip._msiRoutes.TryRemove(gsis[vector], out _);
            }
        }

        public void Trigger(int vector)
        {
            if (!_disposed && (uint)vector < (uint)gsis.Length && chip._msiRoutes.ContainsKey(gsis[vector]))
            {
                chip._msiDelivered.AddOrUpdate(gsis[vector], 1, (_, n) => n + 1);
            }
        }

        public void Dispose()
        {
            _disposed = true;
            foreach (var gsi in gsis)
            {
                chip._msiRoutes.TryRemove(gsi, out _);
            }
        }
    }
}
