namespace ActorVmm.Actors.Endpoints;

/// <summary>
/// Tracing, per vCPU thread: whether the access being handled went through the device actor (posted) instead of
/// running inline, and how long a posted read waited in the actor's mailbox. <see cref="DeviceEndpoint"/> fills in
/// the calling thread's instance when it posts; the thread's <see cref="Tracing.VcpuTracer"/> holds the same instance
/// and reads and resets it with plain field accesses, no thread-static lookup per exit.
/// </summary>
internal sealed class PostedAccessInfo
{
    [ThreadStatic]
    private static PostedAccessInfo? t_current;

    /// <summary>The calling thread's instance.</summary>
    public static PostedAccessInfo Current => t_current ??= new PostedAccessInfo();

    /// <summary>Notes on the calling thread's instance that its access is being posted (nothing queued yet).</summary>
    public static PostedAccessInfo MarkPosted()
    {
        var info = Current;
        info.Posted = true;
        info.QueuedTicks = 0;
        return info;
    }

    public bool Posted;

    /// <summary><see cref="ActorVmm.Kvm.Timing.CycleClock"/> ticks a posted read queued (0 for writes).</summary>
    public long QueuedTicks;
}
