namespace ActorVmm.Actors.Bus;

/// <summary>Accesses no device claimed (reads answered all-ones, writes dropped), per bus space.</summary>
public sealed class BusStats
{
    private long _unclaimedReads;
    private long _unclaimedWrites;
    private long _badSizeAccesses;

    public long UnclaimedReads => Interlocked.Read(ref _unclaimedReads);

    public long UnclaimedWrites => Interlocked.Read(ref _unclaimedWrites);

    /// <summary>Accesses of width 0 or more than 8 bytes (a vCPU never produces them; answered all-ones / dropped).</summary>
    public long BadSizeAccesses => Interlocked.Read(ref _badSizeAccesses);

    internal void CountUnclaimedRead() => Interlocked.Increment(ref _unclaimedReads);

    internal void CountUnclaimedWrite() => Interlocked.Increment(ref _unclaimedWrites);

    internal void CountBadSize() => Interlocked.Increment(ref _badSizeAccesses);
}
