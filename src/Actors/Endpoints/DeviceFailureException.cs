namespace ActorVmm.Actors.Endpoints;

/// <summary>
/// A device model threw. Thrown by <see cref="DeviceActor"/> so the supervisor knows which device failed;
/// the decider table looks at <see cref="Exception.InnerException"/>.
/// </summary>
public sealed class DeviceFailureException(string device, Exception cause)
    : Exception($"Device '{device}' failed: {cause.GetType().Name}: {cause.Message}", cause)
{
    public string Device { get; } = device;

    public Exception Cause => InnerException!;
}
