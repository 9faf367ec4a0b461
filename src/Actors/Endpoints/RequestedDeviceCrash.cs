namespace ActorVmm.Actors.Endpoints;

/// <summary>
/// The failure of a device crashed on request (<see cref="DeviceEndpoint.Crash"/>). It goes through the decider
/// table like any device exception; give it its own entry (<c>RequestedDeviceCrash = ...</c>) to treat it apart.
/// </summary>
public sealed class RequestedDeviceCrash(string device, string why) : Exception($"{device} crashed on request: {why}")
{
    public string Device { get; } = device;

    public string Why { get; } = why;
}
