namespace ActorVmm.Actors.Irq;

/// <summary>
/// What is behind the IRQ actor: the interrupt controller's inputs. <see cref="KvmIrqChip"/> uses irqfds on the
/// in-kernel irqchip; <see cref="InMemoryIrqChip"/> records what happened (tests, benchmarks).
/// </summary>
public interface IIrqChipBackend
{
    /// <summary>Creates the input for <paramref name="gsi"/>: edge, or level (re-asserted after EOI while held high).</summary>
    IIrqLineBackend CreateLine(uint gsi, bool level);
}

/// <summary>
/// One controller input, owned by the IRQ actor (it disposes it when the VM stops). Trigger/SetLevel are
/// called from any thread (device actors, vCPU threads running a device inline) and must be cheap and
/// thread-safe; after <see cref="IDisposable.Dispose"/> they do nothing.
/// </summary>
public interface IIrqLineBackend : IDisposable
{
    uint Gsi { get; }

    bool IsLevel { get; }

    /// <summary>One interrupt (edge), or a pulse on a level line (asserted until the guest EOIs).</summary>
    void Trigger();

    /// <summary>Level lines: the combined level of the devices on the line; the backend re-asserts after each EOI while it stays high.</summary>
    void SetLevel(bool asserted);
}
