namespace ActorVmm.Kvm;

/// <summary>Why KVM_RUN returned to user space, reduced to what the layers above need.</summary>
public enum VmExitKind
{
    /// <summary>Guest executed IN/INS: <see cref="VmExit.Port"/>, <see cref="VmExit.Size"/>, <see cref="VmExit.Count"/>; answer by filling <see cref="Vcpu.ExitData"/> (Size * Count bytes) before the next run.</summary>
    IoIn,

    /// <summary>Guest executed OUT/OUTS: the bytes are <see cref="Vcpu.ExitData"/>.</summary>
    IoOut,

    /// <summary>Guest read unmapped guest-physical memory: answer by filling <see cref="Vcpu.ExitData"/> (Size bytes) before the next run.</summary>
    MmioRead,

    /// <summary>Guest wrote unmapped guest-physical memory: the bytes are <see cref="Vcpu.ExitData"/>.</summary>
    MmioWrite,

    /// <summary>HLT with no in-kernel LAPIC to absorb it.</summary>
    Hlt,

    /// <summary>Triple fault / shutdown.</summary>
    Shutdown,

    /// <summary>KVM_EXIT_SYSTEM_EVENT (shutdown, reset, crash): <see cref="VmExit.Detail"/> holds the type.</summary>
    SystemEvent,

    /// <summary>KVM_EXIT_INTERNAL_ERROR: <see cref="VmExit.Detail"/> holds the suberror.</summary>
    InternalError,

    /// <summary>KVM_EXIT_FAIL_ENTRY: <see cref="VmExit.Detail"/> holds the hardware reason.</summary>
    FailEntry,

    /// <summary>KVM_RUN returned EINTR or immediate_exit was set: someone kicked the vCPU.</summary>
    Interrupted,

    /// <summary>Any other exit reason: <see cref="VmExit.Detail"/> holds the raw KVM_EXIT_* number.</summary>
    Unknown,
}

/// <summary>
/// One VM exit. A small value: nothing above src/Kvm reads kvm_run; data bytes of an I/O or MMIO write are
/// reached through <see cref="Vcpu.ExitData"/> until the next run.
/// </summary>
/// <param name="Kind">The exit reason.</param>
/// <param name="Address">Port number (I/O) or guest-physical address (MMIO).</param>
/// <param name="Size">Access width in bytes (1, 2, 4 or 8).</param>
/// <param name="Count">Repeat count of a string I/O instruction (1 otherwise).</param>
/// <param name="Detail">Reason-specific: system event type, internal error suberror, entry failure reason, raw exit code.</param>
public readonly record struct VmExit(VmExitKind Kind, ulong Address = 0, int Size = 0, int Count = 1, ulong Detail = 0)
{
    public ushort Port => (ushort)Address;

    public override string ToString() => Kind switch
    {
        VmExitKind.IoIn or VmExitKind.IoOut => $"{Kind} port=0x{Address:x} size={Size} count={Count}",
        VmExitKind.MmioRead or VmExitKind.MmioWrite => $"{Kind} addr=0x{Address:x} size={Size}",
        VmExitKind.SystemEvent or VmExitKind.InternalError or VmExitKind.FailEntry or VmExitKind.Unknown => $"{Kind} detail=0x{Detail:x}",
        _ => Kind.ToString(),
    };
}
