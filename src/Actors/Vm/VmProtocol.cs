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
    public sealed record Status(string Name, VmState State, BusMap Bus, IReadOnlyList<DeviceEndpoint> Devices, IrqStats? Irq);
}

public enum VmState
{
    /// <summary>Creating interrupt lines, devices and vCPUs.</summary>
    Building,

    Running,

    /// <summary>Waiting for the vCPU threads, then the device and IRQ actors.</summary>
    Stopping,

    Stopped,
}
