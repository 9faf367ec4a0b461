namespace ActorVmm.Actors.Snapshots;

/// <summary>A snapshot file cannot be used; the message is one line that names the file and the problem.</summary>
public sealed class SnapshotFormatException : Exception
{
    public SnapshotFormatException(string message)
        : base(message)
    {
    }

    public SnapshotFormatException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
