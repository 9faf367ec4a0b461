using ActorVmm.Actors.Endpoints;

namespace ActorVmm.Host.Serve;

/// <summary>What <c>GET /vms/{id}/devices</c> says a device is and how it is doing.</summary>
internal static class DeviceKinds
{
    public static string Of(DeviceEndpoint endpoint) => endpoint.Kind ?? OfName(endpoint.Name);

    /// <summary>The kind of a device of a VM <see cref="VmBuilder"/> built, from the name it gives it.</summary>
    public static string OfName(string name) => name switch
    {
        _ when name.StartsWith("serial", StringComparison.Ordinal) => "serial",
        _ when name.StartsWith("disk", StringComparison.Ordinal) => "virtio-blk",
        _ when name.StartsWith("console", StringComparison.Ordinal) => "virtio-console",
        _ when name.StartsWith("rng", StringComparison.Ordinal) => "virtio-rng",
        "i8042" or "cmos" or "fast-a20" => name,
        _ => "port-sink",
    };

    public static string StateOf(DeviceEndpoint endpoint) => endpoint.State switch
    {
        DeviceRunState.Running => "running",
        DeviceRunState.Restarting => "restarting",
        DeviceRunState.FailStopped => "fail-stopped",
        _ => "stopped",
    };
}
