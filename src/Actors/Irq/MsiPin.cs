using ActorVmm.Devices;

namespace ActorVmm.Actors.Irq;

/// <summary>
/// A device's pin that also carries MSI vectors: INTx goes to its <see cref="InterruptPin"/>, vectors straight to the
/// backend's vectors (an eventfd write per trigger for KVM) — the same capability model as the pin: the IRQ actor
/// created and owns the vectors and disposes them when the VM stops, after which triggers do nothing.
/// </summary>
internal sealed class MsiPin(InterruptPin pin, IMsiVectorsBackend vectors, IReadOnlyList<IrqStats.GsiCounter> raised)
    : IInterruptLine, IMsiInterrupts
{
    public int VectorCount => vectors.VectorCount;

    public void Trigger() => pin.Trigger();

    public void SetLevel(bool asserted) => pin.SetLevel(asserted);

    public bool SetMessage(int vector, MsiMessage message) => vectors.SetMessage(vector, message);

    public void ClearMessage(int vector) => vectors.ClearMessage(vector);

    public void Trigger(int vector)
    {
        if ((uint)vector < (uint)raised.Count)
        {
            raised[vector].Increment();
        }

        vectors.Trigger(vector);
    }
}
