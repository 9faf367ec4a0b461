namespace ActorVmm.Devices.Tests.Legacy;

/// <summary>An interrupt line that records what devices do with it.</summary>
internal sealed class RecordingInterruptLine : IInterruptLine
{
    private int _triggers;

    public int Triggers => Volatile.Read(ref _triggers);

    public List<bool> Levels { get; } = [];

    public void Trigger() => Interlocked.Increment(ref _triggers);

    public void SetLevel(bool asserted)
    {
        lock (Levels)
        {
            Levels.Add(asserted);
        }
    }
}
