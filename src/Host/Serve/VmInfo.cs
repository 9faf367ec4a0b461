namespace ActorVmm.Host.Serve;

/// <summary><c>GET /vms/{id}</c>: <c>state</c> is created, running, paused or stopped; <c>exit</c> is null until stopped.</summary>
public sealed record VmInfo(string Id, string State, VmExitInfo? Exit);

/// <summary>Why a VM stopped (<c>reason</c>: poweroff, reset, host-request, device-failure, ...) and its exit code.</summary>
public sealed record VmExitInfo(string Reason, int Code, string Message);

/// <summary>The state names of <see cref="VmInfo.State"/>.</summary>
public static class VmStates
{
    public const string Created = "created";
    public const string Running = "running";
    public const string Paused = "paused";
    public const string Stopped = "stopped";
}
