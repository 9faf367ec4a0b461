namespace ActorVmm.Actors.Tracing;

/// <summary>Writes trace events to a file in one format; called on the tracer's single writer task only.</summary>
public interface ITraceEventWriter : IAsyncDisposable
{
    void Write(in TraceEvent e);

    /// <summary>Writes the trailer (dropped events) and flushes. Called once, after the last <see cref="Write"/>.</summary>
    ValueTask FinishAsync(long dropped);
}
