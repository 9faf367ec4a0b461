using ActorVmm.Devices;

namespace ActorVmm.Actors.Irq;

/// <summary>
/// An interrupt controller backend that can deliver message-signalled interrupts (MSI-X). Optional beside
/// <see cref="IIrqChipBackend"/>: the IRQ actor offers devices MSI vectors only when its backend implements this.
/// </summary>
public interface IMsiChipBackend
{
    /// <summary>Creates <paramref name="count"/> vectors, each on a GSI of its own; unrouted until the guest programs them.</summary>
    /// <exception cref="InvalidOperationException">No GSIs left.</exception>
    IMsiVectorsBackend CreateMsiVectors(int count);
}

/// <summary>
/// One device's MSI vectors, owned by the IRQ actor (it disposes them when the VM stops; after that every call does
/// nothing). Thread-safe; <see cref="IMsiInterrupts.Trigger"/> is the hot path (for KVM, one eventfd write).
/// </summary>
public interface IMsiVectorsBackend : IMsiInterrupts, IDisposable
{
    /// <summary>The GSI behind each vector.</summary>
    IReadOnlyList<uint> Gsis { get; }
}
