namespace ActorVmm.Actors.Faults;

/// <summary>
/// Thrown by a device under a <see cref="FaultKind.Crash"/> plan. It goes through the same supervision path as a real
/// device bug (decider table, restart budget); give it its own decider entry (<c>InjectedDeviceFault = ...</c>) to
/// treat injected crashes differently.
/// </summary>
public sealed class InjectedDeviceFault(string device, string plan) : Exception($"injected crash of {device} ({plan})")
{
    public string Device { get; } = device;

    public string Plan { get; } = plan;
}
