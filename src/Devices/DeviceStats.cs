namespace ActorVmm.Devices;

/// <summary>Counters every device keeps; accesses it does not handle are counted here, never thrown.</summary>
public sealed class DeviceStats
{
    private long _reads;
    private long _writes;
    private long _unhandledReads;
    private long _unhandledWrites;
    private long _badSizeAccesses;
    private long _guestErrors;
    private long _failedRequests;

    public long Reads => Interlocked.Read(ref _reads);

    public long Writes => Interlocked.Read(ref _writes);

    public long UnhandledReads => Interlocked.Read(ref _unhandledReads);

    public long UnhandledWrites => Interlocked.Read(ref _unhandledWrites);

    /// <summary>Accesses whose width the device does not accept.</summary>
    public long BadSizeAccesses => Interlocked.Read(ref _badSizeAccesses);

    /// <summary>Malformed requests from the guest (bad descriptors, lengths, addresses) that were failed or ignored.</summary>
    public long GuestErrors => Interlocked.Read(ref _guestErrors);

    /// <summary>Requests completed as failed because serving them threw twice (host-side failures, not the guest's).</summary>
    public long FailedRequests => Interlocked.Read(ref _failedRequests);

    public void CountRead() => Interlocked.Increment(ref _reads);

    public void CountWrite() => Interlocked.Increment(ref _writes);

    public void CountUnhandledRead() => Interlocked.Increment(ref _unhandledReads);

    public void CountUnhandledWrite() => Interlocked.Increment(ref _unhandledWrites);

    public void CountBadSize() => Interlocked.Increment(ref _badSizeAccesses);

    public void CountGuestError() => Interlocked.Increment(ref _guestErrors);

    public void CountFailedRequest() => Interlocked.Increment(ref _failedRequests);
}
