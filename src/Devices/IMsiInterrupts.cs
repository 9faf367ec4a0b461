namespace ActorVmm.Devices;

/// <summary>
/// The message-signalled interrupt vectors a device was given (for MSI-X), beside its <see cref="IInterruptLine"/>.
/// The device model keeps the guest-visible semantics (table, masking, pending bits); behind this interface the IRQ
/// layer turns a programmed message into something the interrupt controller delivers (KVM: an MSI GSI route with
/// an irqfd per vector). Devices never touch KVM. Implementations are thread-safe; <see cref="Trigger"/> is cheap.
/// </summary>
public interface IMsiInterrupts
{
    /// <summary>Vectors available, numbered 0..VectorCount-1.</summary>
    int VectorCount { get; }

    /// <summary>
    /// Routes <paramref name="vector"/> to <paramref name="message"/> (the guest wrote it, so it is untrusted).
    /// Returns false when the message cannot be delivered (not an interrupt address, refused by the controller, or
    /// the vector is out of range); the vector is then unrouted and <see cref="Trigger"/> on it does nothing.
    /// </summary>
    bool SetMessage(int vector, MsiMessage message);

    /// <summary>Removes <paramref name="vector"/>'s route (out-of-range vectors are ignored).</summary>
    void ClearMessage(int vector);

    /// <summary>Sends <paramref name="vector"/>'s message once; nothing when it is unrouted or out of range.</summary>
    void Trigger(int vector);
}
