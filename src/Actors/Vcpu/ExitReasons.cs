using ActorVmm.Actors.Vm;
using ActorVmm.Kvm;

namespace ActorVmm.Actors.Vcpu;

/// <summary>Maps the exits that end a vCPU's loop to a VM stop reason.</summary>
public static class ExitReasons
{
    // KVM_SYSTEM_EVENT_* (include/uapi/linux/kvm.h).
    private const ulong SystemEventShutdown = 1;
    private const ulong SystemEventReset = 2;
    private const ulong SystemEventCrash = 3;

    /// <summary>The stop reason for an exit that ends the loop, or null for exits the loop handles.</summary>
    public static VmStopReason? For(int vcpuId, VmExit exit) => exit.Kind switch
    {
        VmExitKind.Hlt => new VmStopReason(VmStopReasonKind.PowerOff, $"vcpu{vcpuId} halted (HLT exit)"),
        VmExitKind.Shutdown => new VmStopReason(VmStopReasonKind.TripleFault, $"vcpu{vcpuId}: triple fault (KVM_EXIT_SHUTDOWN)"),
        VmExitKind.SystemEvent => exit.Detail switch
        {
            SystemEventShutdown => new VmStopReason(VmStopReasonKind.PowerOff, $"vcpu{vcpuId}: guest powered off (system event)"),
            SystemEventReset => new VmStopReason(VmStopReasonKind.Reset, $"vcpu{vcpuId}: guest reset (system event)"),
            SystemEventCrash => new VmStopReason(VmStopReasonKind.GuestPanic, $"vcpu{vcpuId}: guest crashed (system event)"),
            _ => new VmStopReason(VmStopReasonKind.InternalError, $"vcpu{vcpuId}: unhandled system event {exit.Detail}"),
        },
        VmExitKind.InternalError => new VmStopReason(VmStopReasonKind.InternalError, $"vcpu{vcpuId}: KVM internal error, suberror {exit.Detail}"),
        VmExitKind.FailEntry => new VmStopReason(VmStopReasonKind.InternalError, $"vcpu{vcpuId}: VM entry failed, hardware reason 0x{exit.Detail:x}"),
        VmExitKind.Unknown => new VmStopReason(VmStopReasonKind.InternalError, $"vcpu{vcpuId}: unhandled exit {exit.Detail}"),
        _ => null,
    };
}
