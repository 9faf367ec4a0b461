namespace ActorVmm.Actors.Net;

/// <summary>How the in-process switches of a <see cref="SwitchRegistry"/> behave.</summary>
/// <param name="MacAgeing">A learned MAC is forgotten this long after its last frame (Linux bridge default: 300 s).</param>
/// <param name="MaxMacs">MACs a switch's table holds at most; beyond it new sources are not learned (their frames still flood).</param>
/// <param name="MaxInFlightFrames">Frames a port may have in its switch's mailbox; more are dropped and counted on the port's link.</param>
/// <param name="MaxInFlightBytes">Bytes a port may have in its switch's mailbox.</param>
public sealed record SwitchOptions(TimeSpan MacAgeing, int MaxMacs = 4096, int MaxInFlightFrames = 256, long MaxInFlightBytes = 4L << 20)
{
    public static readonly SwitchOptions Default = new(TimeSpan.FromSeconds(300));
}
