using ActorVmm.Devices;

namespace ActorVmm.Actors.Irq;

/// <summary>
/// The capability a device gets: its pin on one GSI. The hot path goes straight to the backend line (for KVM, an
/// eventfd write — no actor hop); the IRQ actor created, registered and owns that line and closes it when the VM
/// stops, after which the pin does nothing. Several devices may share a GSI: a level line is high while any of
/// its pins is; on an edge line SetLevel(true) is a rising edge (one interrupt).
/// </summary>
internal sealed class InterruptPin(string device, SharedLine line) : IInterruptLine
{
    private int _asserted;

    public string Device { get; } = device;

    public uint Gsi => line.Backend.Gsi;

    public void Trigger() => line.Trigger();

    public void SetLevel(bool asserted)
    {
        var value = asserted ? 1 : 0;
        if (Interlocked.Exchange(ref _asserted, value) == value)
        {
            return;
        }

        line.PinChanged(asserted);
    }
}

/// <summary>One GSI's backend line and the number of pins holding it high.</summary>
internal sealed class SharedLine(IIrqLineBackend backend, IrqStats.GsiCounter raised)
{
    private readonly Lock _sync = new();
    private int _high;
    private volatile bool _closed;

    public IIrqLineBackend Backend { get; } = backend;

    public void Trigger()
    {
        if (_closed)
        {
            return;
        }

        raised.Increment();
        Backend.Trigger();
    }

    public void PinChanged(bool asserted)
    {
        if (!Backend.IsLevel)
        {
            if (asserted)
            {
                Trigger();
            }

            return;
        }

        lock (_sync)
        {
            if (_closed)
            {
                return;
            }

            var before = _high;
            _high = Math.Max(0, _high + (asserted ? 1 : -1));
            if (before == 0 && _high > 0)
            {
                raised.Increment();
                Backend.SetLevel(true);
            }
            else if (before > 0 && _high == 0)
            {
                Backend.SetLevel(false);
            }
        }
    }

    public void Close()
    {
        lock (_sync)
        {
            _closed = true;
            Backend.Dispose();
        }
    }
}
