namespace ActorVmm.Kvm;

/// <summary>
/// The data plane of one vCPU: what the thread that runs it needs. <see cref="Vcpu"/> is the KVM implementation;
/// tests above src/Kvm may fake it. Everything but <see cref="Kick"/> must be called on the thread that runs the vCPU.
/// </summary>
public interface IVcpu
{
    int Id { get; }

    /// <summary>Must be called once on the thread that will call <see cref="Run"/>, before the first run; enables <see cref="Kick"/>.</summary>
    void BindToCurrentThread();

    /// <summary>
    /// KVM_RUN until the next exit. A kick or a set <see cref="ImmediateExit"/> comes back as
    /// <see cref="VmExitKind.Interrupted"/> (and clears ImmediateExit); every kick yields at least one Interrupted
    /// return after it (kicks landing together may share one). EINTR from unrelated signals re-enters the guest.
    /// </summary>
    VmExit Run();

    /// <summary>
    /// The data bytes of the current I/O or MMIO exit (Size * Count bytes): read them for IoOut/MmioWrite,
    /// fill them for IoIn/MmioRead before the next <see cref="Run"/>. Empty for other exits.
    /// </summary>
    Span<byte> ExitData { get; }

    /// <summary>kvm_run.immediate_exit: when set, the next KVM_RUN completes pending I/O and returns at once.</summary>
    bool ImmediateExit { get; set; }

    /// <summary>From any thread: makes a KVM_RUN in progress (or the next one) return <see cref="VmExitKind.Interrupted"/>.</summary>
    void Kick();
}
