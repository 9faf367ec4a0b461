namespace ActorVmm.Devices;

/// <summary>
/// An interrupt line a device was given. Only the IRQ actor knows what is behind it (an irqfd, a resamplefd);
/// devices never touch KVM. Implementations must be cheap and thread-safe: devices call them from any thread.
/// </summary>
public interface IInterruptLine
{
    /// <summary>An edge: one interrupt (MSI-like, or an edge-triggered ISA line).</summary>
    void Trigger();

    /// <summary>Drives a level-triggered line high (true) or low (false).</summary>
    void SetLevel(bool asserted);
}
