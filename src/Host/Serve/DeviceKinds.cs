using ActorVmm.Actors.Endpoints;

namespace ActorVmm.Host.Serve;

/// <summary>What <c>GET /vms/{id}/devices</c> says a device is and how it is doing.</summary>
internal static class DeviceKinds
{
    /// <summary>The kind its blueprint names (VmBuilder gives every device one); "device" for one without.</summary>
    public static string Of(DeviceEndpoint endpoint) => endpoint.Kind ?? "device";

    public static string StateOf(DeviceEndpoint endpoint) => endpoint.State switch
    {
        DeviceRunState.Running => "running",
        DeviceRunState.Restarting => "restarting",
        DeviceRunState.FailStopped => "fail-stopped",
        _ => "stopped",
    };
}
