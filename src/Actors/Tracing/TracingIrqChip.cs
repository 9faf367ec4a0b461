using ActorVmm.Actors.Irq;

namespace ActorVmm.Actors.Tracing;

/// <summary>
/// An <see cref="IIrqChipBackend"/> decorator that reports every interrupt raised (an edge, or a level line going
/// high) to an <see cref="ITraceSink"/> with its GSI and the device(s) wired to it, then passes it on.
/// </summary>
public sealed class TracingIrqChip(IIrqChipBackend inner, ITraceSink sink, IReadOnlyDictionary<uint, string> devicesByGsi) : IIrqChipBackend
{
    public IIrqLineBackend CreateLine(uint gsi, bool level) =>
        new Line(inner.CreateLine(gsi, level), sink, devicesByGsi.GetValueOrDefault(gsi) ?? $"gsi{gsi}");

    private sealed class Line(IIrqLineBackend inner, ITraceSink sink, string device) : IIrqLineBackend
    {
        private int _high;

        public uint Gsi => inner.Gsi;

        public bool IsLevel => inner.IsLevel;

        public void Trigger()
        {
            sink.Interrupt(inner.Gsi, device);
            inner.Trigger();
        }

        public void SetLevel(bool asserted)
        {
            if (asserted && Interlocked.Exchange(ref _high, 1) == 0)
            {
                sink.Interrupt(inner.Gsi, device);
            }
            else if (!asserted)
            {
                Volatile.Write(ref _high, 0);
            }

            inner.SetLevel(asserted);
        }

        public void Dispose() => inner.Dispose();
    }
}
