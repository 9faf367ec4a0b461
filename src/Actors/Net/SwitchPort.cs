namespace ActorVmm.Actors.Net;

/// <summary>
/// One port of a switch as its actor sees it: where frames for the port go (<see cref="Deliver"/>, never blocking) and
/// the bound on the port's frames waiting in the switch's mailbox, so no port can grow the switch's memory.
/// </summary>
public abstract class SwitchPort
{
    private readonly int _maxFrames;
    private readonly long _maxBytes;
    private int _frames;
    private long _bytes;
    private long _dropped;

    private protected SwitchPort(int id, string name, SwitchOptions options)
    {
        Id = id;
        Name = name;
        _maxFrames = options.MaxInFlightFrames;
        _maxBytes = options.MaxInFlightBytes;
    }

    public int Id { get; }

    /// <summary>Who holds the port (<c>vm-a/net0</c>, <c>uplink tap0</c>).</summary>
    public string Name { get; }

    /// <summary>Frames this port dropped: its mailbox share was full, it was detached, or it had not started.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>A frame for this port (called by the switch actor). Never blocks.</summary>
    public abstract void Deliver(byte[] frame);

    /// <summary>The switch took a frame of this port out of its mailbox.</summary>
    internal void Left(int length)
    {
        Interlocked.Decrement(ref _frames);
        Interlocked.Add(ref _bytes, -length);
    }

    /// <summary>Room for one more frame of this port in the switch's mailbox? False counts a drop.</summary>
    private protected bool TryEnter(int length)
    {
        var frames = Interlocked.Increment(ref _frames);
        var bytes = Interlocked.Add(ref _bytes, length);
        if (frames <= _maxFrames && bytes <= _maxBytes)
        {
            return true;
        }

        Left(length);
        CountDropped();
        return false;
    }

    private protected void CountDropped() => Interlocked.Increment(ref _dropped);
}
