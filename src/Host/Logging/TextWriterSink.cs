using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting;
using ActorVmm.Actors.Logging;
using ActorVmm.Actors.Settings;

namespace ActorVmm.Host.Logging;

/// <summary>A Serilog sink writing formatted events to a <see cref="TextWriter"/> (an injected stderr in tests and the CLI).</summary>
internal sealed class TextWriterSink(ITextFormatter formatter, TextWriter writer) : ILogEventSink
{
    private readonly Lock _lock = new();

    public void Emit(LogEvent logEvent)
    {
        lock (_lock)
        {
            formatter.Format(logEvent, writer);
            writer.Flush();
        }
    }
}
