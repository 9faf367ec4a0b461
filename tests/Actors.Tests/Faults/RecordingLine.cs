using ActorVmm.Devices;

namespace ActorVmm.Actors.Tests.Faults;

/// <summary>An interrupt line that remembers its level and how often it went high.</summary>
internal sealed class RecordingLine : IInterruptLine
{
    private int _raised;
    private volatile bool _level;

    public bool Level => _level;

    public int Raised => Volatile.Read(ref _raised);

    public void Trigger() => Interlocked.Increment(ref _raised);

    public void SetLevel(bool asserted)
    {
        if (asserted && !_level)
        {
            Interlocked.Increment(ref _raised);
        }

        _level = asserted;
    }
}
