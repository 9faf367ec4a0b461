using ActorVmm.Actors.Endpoints;
using ActorVmm.Actors.Irq;

namespace ActorVmm.Actors.Tracing;

/// <summary>
/// An <see cref="IIrqChipBackend"/> decorator that reports every interrupt raised (an edge, or a level line going
/// high, or an MSI vector sent) to an <see cref="ITraceSink"/> with its GSI and the device(s) wired to it, then
/// passes it on. MSI vectors exist only when the inner backend has them, so tracing never moves a device to INTx.
/// The sink can be swapped at any time (<see cref="Sink"/>; null: pass-through at the cost of one null check), so a
/// VM keeps this wrapper for its whole life and tracing can be attached to it while it runs.
/// </summary>
public sealed class TracingIrqChip(IIrqChipBackend inner, ITraceSink? sink, IReadOnlyDictionary<uint, string> devicesByGsi)
    : IIrqChipBackend, IMsiChipBackend
{
    private volatile ITraceSink? _sink = sink;

    /// <summary>Where interrupts are reported from now on; null: nowhere.</summary>
    public ITraceSink? Sink
    {
        get => _sink;
        set => _sink = value;
    }

    public IIrqLineBackend CreateLine(uint gsi, bool level) =>
        new Line(inner.CreateLine(gsi, level), this, devicesByGsi.GetValueOrDefault(gsi) ?? $"gsi{gsi}");

    public IMsiVectorsBackend CreateMsiVectors(int count) =>
        inner is IMsiChipBackend msi
            ? new Vectors(msi.CreateMsiVectors(count), this)
            : throw new NotSupportedException("the interrupt controller has no MSI vectors");

    private sealed class Vectors(IMsiVectorsBackend inner, TracingIrqChip chip) : IMsiVectorsBackend
    {
        public int VectorCount => inner.VectorCount;

        public IReadOnlyList<uint> Gsis => inner.Gsis;

        public bool SetMessage(int vector, ActorVmm.Devices.MsiMessage message) => inner.SetMessage(vector, message);

        public void ClearMessage(int vector) => inner.ClearMessage(vector);

        public void Trigger(int vector)
        {
            if (chip._sink is { } sink && (uint)vector < (uint)inner.Gsis.Count)
            {
                var gsi = inner.Gsis[vector];
                sink.Interrupt(gsi, $"msi-gsi{gsi}");
            }

            inner.Trigger(vector);
        }

        public void Dispose() => inner.Dispose();
    }

    private sealed class Line(IIrqLineBackend inner, TracingIrqChip chip, string device) : IIrqLineBackend
    {
        private int _high;

        public uint Gsi => inner.Gsi;

        public bool IsLevel => inner.IsLevel;

        public void Trigger()
        {
            chip._sink?.Interrupt(inner.Gsi, device);
            inner.Trigger();
        }

        public void SetLevel(bool asserted)
        {
            if (asserted && chip._sink is null)
            {
                // Untraced: a line raised now is reported when it next goes high after going low.
                Volatile.Write(ref _high, 1);
            }
            else if (asserted && Interlocked.Exchange(ref _high, 1) == 0)
            {
                chip._sink?.Interrupt(inner.Gsi, device);
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
