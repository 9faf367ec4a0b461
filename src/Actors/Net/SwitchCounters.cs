namespace ActorVmm.Actors.Net;

/// <summary>A switch's counters: written by its actor, read lock-free from any thread (<see cref="SwitchRegistry.Stats"/>).</summary>
public sealed class SwitchCounters
{
    private long _forwarded;
    private long _flooded;
    private long _filtered;
    private long _dropped;
    private int _macs;
    private int _ports;

    /// <summary>Unicast frames sent to the one port their destination was learned on.</summary>
    public long Forwarded => Interlocked.Read(ref _forwarded);

    /// <summary>Frames sent to every other port (broadcast, multicast, unknown or aged destination).</summary>
    public long Flooded => Interlocked.Read(ref _flooded);

    /// <summary>Frames whose destination was learned on the port they came from (never sent back).</summary>
    public long Filtered => Interlocked.Read(ref _filtered);

    /// <summary>Frames dropped: malformed, a multicast source, or from a port already gone.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>MACs in the table now.</summary>
    public int MacTableSize => Volatile.Read(ref _macs);

    /// <summary>Ports attached now (NICs and the uplink).</summary>
    public int Ports => Volatile.Read(ref _ports);

    internal void CountForwarded() => Interlocked.Increment(ref _forwarded);

    internal void CountFlooded() => Interlocked.Increment(ref _flooded);

    internal void CountFiltered() => Interlocked.Increment(ref _filtered);

    internal void CountDropped() => Interlocked.Increment(ref _dropped);

    internal void SetMacTableSize(int size) => Volatile.Write(ref _macs, size);

    internal void SetPorts(int ports) => Volatile.Write(ref _ports, ports);
}
