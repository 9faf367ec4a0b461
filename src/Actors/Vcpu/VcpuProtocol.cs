using ActorVmm.Actors.Vm;

namespace ActorVmm.Actors.Vcpu;

/// <summary>
/// The control plane of a <see cref="VcpuActor"/>. (Named <c>VcpuProtocol</c> rather than <c>Vcpu</c>: that name is
/// taken by the namespace and by <c>ActorVmm.Kvm.Vcpu</c>.)
/// </summary>
public static class VcpuProtocol
{
    /// <summary>Starts the vCPU thread. No reply.</summary>
    public sealed record Start
    {
        public static readonly Start Instance = new();
    }

    /// <summary>Parks the vCPU thread after completing a pending I/O exit. Reply: <see cref="Paused"/> (or <see cref="Stopped"/>).</summary>
    public sealed record Pause
    {
        public static readonly Pause Instance = new();
    }

    /// <summary>Lets a parked vCPU run again. Reply: <see cref="Resumed"/> (or <see cref="Stopped"/>).</summary>
    public sealed record Resume
    {
        public static readonly Resume Instance = new();
    }

    /// <summary>Stops the vCPU thread for good after completing a pending I/O exit. Reply: <see cref="Stopped"/> once the thread is done.</summary>
    public sealed record Stop
    {
        public static readonly Stop Instance = new();
    }

    /// <summary>Makes the current KVM_RUN return (the loop re-checks its control flags and goes on). No reply.</summary>
    public sealed record Kick
    {
        public static readonly Kick Instance = new();
    }

    /// <summary>
    /// Switches the vCPU's tracer (null: off). The thread takes it between two exits or while parked. Reply:
    /// <see cref="TracerSet"/> once the thread will never again write into the tracer it had.
    /// </summary>
    public sealed record SetTracer(Tracing.VcpuTracer? Tracer);

    public sealed record TracerSet(int VcpuId);

    public sealed record Paused(int VcpuId);

    public sealed record Resumed(int VcpuId);

    /// <summary>The vCPU thread has finished; <paramref name="GuestReason"/> is set when the guest (or an error) ended it.</summary>
    public sealed record Stopped(int VcpuId, VmStopReason? GuestReason);

    /// <summary>To the report target (the VM actor): the guest stopped this vCPU (poweroff, reset, triple fault, error).</summary>
    public sealed record GuestStopped(int VcpuId, VmStopReason Reason);
}
