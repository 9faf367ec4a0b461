using ActorVmm.Devices;

namespace ActorVmm.TestSupport.Fakes;

/// <summary>An interrupt line that remembers its level and how often it was raised.</summary>
public sealed class RecordingInterruptLine : IInterruptLine
{
    private int _raised;
    private int _triggered;
    private volatile bool _level;

    public bool Level => _level;

    public int Raised => Volatile.Read(ref _raised);

    public int Triggered => Volatile.Read(ref _triggered);

    public void Trigger() => Interlocked.Increment(ref _triggered);

    public void SetLevel(bool asserted)
    {
        if (asserted && !_level)
        {
            Interlocked.Increment(ref _raised);
        }

        _level = asserted;
    }
}
