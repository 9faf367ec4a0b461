namespace ActorVmm.Actors.Endpoints;

/// <summary>
/// A device (wrapper) that may decide a guest read gets no reply at all (a drop fault). Its
/// <c>DeviceEndpoint</c> asks before every read; on true the read never reaches the device or its actor and the vCPU
/// takes the read-timeout path (waits <c>devices.read-timeout</c>, the guest reads all-ones, counted in
/// <c>ReadTimeouts</c>): exactly what a lost message or a hung device looks like.
/// </summary>
public interface IReplyDropper
{
    /// <summary>Called on the vCPU thread, outside the device's gate; must be cheap and thread-safe.</summary>
    bool ShouldDropRead(ulong offset, int size);
}
