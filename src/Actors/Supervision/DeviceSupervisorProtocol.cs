using ActorVmm.Actors.Endpoints;
using ActorVmm.Actors.Vm;
using ActorVmm.Devices;

namespace ActorVmm.Actors.Supervision;

/// <summary>The protocol of <see cref="DeviceSupervisorActor"/>.</summary>
public static class DeviceSupervisorProtocol
{
    /// <summary>One device to supervise: its endpoint (already on the bus), how to build it, its interrupt line.</summary>
    public sealed record DeviceSpec(DeviceEndpoint Endpoint, Func<IBusDevice> Factory, IInterruptLine? Interrupt = null);

    /// <summary>To the supervisor's parent once every device actor exists and its endpoint is bound.</summary>
    public sealed record Started
    {
        public static readonly Started Instance = new();
    }

    /// <summary>To the report target: a device exceeded its budget and the policy stops the VM.</summary>
    public sealed record DeviceFailed(string Device, VmStopReason Reason);
}
