namespace ActorVmm.Actors;

/// <summary>Why a VM stopped; the CLI maps it to an exit code.</summary>
public enum VmStopReasonKind
{
    /// <summary>The guest powered off (ACPI/KVM system event shutdown) or the host asked it to stop.</summary>
    PowerOff,

    /// <summary>The guest reset (i8042 0xFE, <c>reboot=k</c>, KVM system event reset).</summary>
    Reset,

    /// <summary>The guest kernel panicked (pvpanic / KVM crash event / panic message).</summary>
    GuestPanic,

    /// <summary>Triple fault: KVM_EXIT_SHUTDOWN.</summary>
    TripleFault,

    /// <summary>KVM internal error, failed entry, or an exit we cannot handle.</summary>
    InternalError,

    /// <summary>A device failed beyond its restart budget and the policy stops the VM.</summary>
    DeviceFailure,

    /// <summary>Stopped from the host (Ctrl-C, API).</summary>
    HostRequest,
}

/// <summary>Why a VM stopped, with a one-line human explanation.</summary>
public sealed record VmStopReason(VmStopReasonKind Kind, string Message)
{
    /// <summary>0 for a clean poweroff, reset or host request; non-zero otherwise.</summary>
    public int ExitCode => Kind switch
    {
        VmStopReasonKind.PowerOff or VmStopReasonKind.Reset or VmStopReasonKind.HostRequest => 0,
        VmStopReasonKind.GuestPanic => 3,
        VmStopReasonKind.TripleFault => 4,
        VmStopReasonKind.InternalError => 5,
        VmStopReasonKind.DeviceFailure => 6,
        _ => 1,
    };

    public override string ToString() => $"{Kind}: {Message}";
}
