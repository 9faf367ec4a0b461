namespace ActorVmm.Actors.Faults;

/// <summary>
/// SplitMix64: a tiny seeded generator whose sequence is fixed by its definition (unlike <see cref="Random"/>, whose
/// algorithm is an implementation detail), so <c>p=P,seed=S</c> fires on the same requests on every run and version.
/// </summary>
public struct SplitMix64(ulong seed)
{
    private ulong _state = seed;

    public ulong Next()
    {
        var z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A double in [0, 1) from the top 53 bits.</summary>
    public double NextDouble() => (Next() >> 11) * (1.0 / (1UL << 53));
}
