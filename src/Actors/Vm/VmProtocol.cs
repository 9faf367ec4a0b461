using ActorVmm.Actors.Endpoints;
using ActorVmm.Actors.Irq;
using BusMap = ActorVmm.Actors.Bus.Bus;

namespace ActorVmm.Actors.Vm;

/// <summary>The protocol of <see cref="VmActor"/>. (Not <c>Vm</c>: that is this namespace's name.)</summary>
public static class VmProtocol
{
    /// <summary>Stops the VM (host request, or a device through <see cref="IVmControl"/>). The first reason wins.</summary>
    public sealed record Stop(VmStopReason Reason);

    /// <summary>Subscribes the sender to <see cref="Stopped"/>.</summary>
    public sealed record WatchStop
    {
        public static readonly WatchStop Instance = new();
    }

    /// <summary>The VM has stopped: vCPU threads finished, devices stopped, resources disposed.</summary>
    public sealed record Stopped(VmStopReason Reason);

    /// <summary>Reply: <see cref="Status"/>.</summary>
    public sealed record GetStatus
    {
        public static readonly GetStatus Instance = new();
    }

    /// <summary>Live view for tracing and tests: the bus (with its unclaimed counters), device endpoints (counters), IRQ counters.</summary>
    public sealed record Status(string Name, VmState State, BusMap Bus, IReadOnlyList<DeviceEndpoint> Devices, IrqStats? Irq)
    {
        /// <summary>Exits per kind of all vCPUs (always counted).</summary>
        public Vcpu.ExitCounters? ExitCounters { get; init; }

        /// <summary>The tracer attached now (at spawn or by <see cref="StartTracing"/>); null: none.</summary>
        public Tracing.VmTracer? Tracer { get; init; }
    }

    /// <summary>
    /// Parks every vCPU thread (a pending I/O exit completed first). Reply: <see cref="Paused"/> once every vCPU
    /// confirmed (at once when already paused), or <see cref="Failed"/> when the VM is not running.
    /// </summary>
    public sealed record Pause
    {
        public static readonly Pause Instance = new();
    }

    public sealed record Paused
    {
        public static readonly Paused Instance = new();
    }

    /// <summary>Lets a paused VM run again. Reply: <see cref="Resumed"/> (at once when running), or <see cref="Failed"/>.</summary>
    public sealed record Resume
    {
        public static readonly Resume Instance = new();
    }

    public sealed record Resumed
    {
        public static readonly Resumed Instance = new();
    }

    /// <summary>
    /// Attaches <paramref name="Tracer"/> to a running or paused VM: exits, interrupts, device faults and restarts
    /// go to it from now on. Reply: <see cref="TracingStarted"/> once every vCPU thread writes into it, or
    /// <see cref="Failed"/> (a tracer is already attached, wrong state); after a failure the caller still owns it.
    /// </summary>
    public sealed record StartTracing(Tracing.VmTracer Tracer);

    public sealed record TracingStarted
    {
        public static readonly TracingStarted Instance = new();
    }

    /// <summary>
    /// Detaches the tracer. Reply: <see cref="TracingStopped"/> once no vCPU thread can write into it any more (then
    /// complete it: <see cref="Tracing.TracingSetup.FinishAsync"/>), or <see cref="Failed"/> (none attached, wrong state).
    /// </summary>
    public sealed record StopTracing
    {
        public static readonly StopTracing Instance = new();
    }

    public sealed record TracingStopped(Tracing.VmTracer Detached);

    /// <summary>A command refused: one line naming the problem, and the VM's state when it was refused.</summary>
    /// <summary>Writes a snapshot of a paused VM into <paramref name="Directory"/> (new or empty); answered <see cref="SnapshotTaken"/> or <see cref="Failed"/>.</summary>
    public sealed record Snapshot(string Directory);

    public sealed record SnapshotTaken(VmSnapshotResult Result);

    /// <summary>The snapshot could not be written (I/O, a device restarting...); nothing of it is left and the VM stays paused.</summary>
    public sealed record SnapshotFailed(string Reason);

    public sealed record Failed(string Reason, VmState State);
}

public enum VmState
{
    /// <summary>Creating interrupt lines, devices and vCPUs.</summary>
    Building,

    Running,

    /// <summary>Every vCPU thread is parked (<see cref="VmProtocol.Pause"/>); devices and interrupts keep working.</summary>
    Paused,

    /// <summary>Waiting for the vCPU threads, then the device and IRQ actors.</summary>
    Stopping,

    Stopped,
}
