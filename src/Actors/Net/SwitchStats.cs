namespace ActorVmm.Actors.Net;

/// <summary>One switch's figures at one moment (for the API and stats).</summary>
public sealed record SwitchStats(string Name, int Ports, int MacTableSize, long Forwarded, long Flooded, long Filtered, long Dropped)
{
    internal static SwitchStats Of(string name, SwitchCounters c) => new(name, c.Ports, c.MacTableSize, c.Forwarded, c.Flooded, c.Filtered, c.Dropped);
}
