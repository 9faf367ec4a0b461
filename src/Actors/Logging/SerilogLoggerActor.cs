using Akka.Actor;
using Akka.Dispatch;
using Akka.Event;
using Serilog.Events;
using AkkaLogEvent = Akka.Event.LogEvent;
using SerilogLogEvent = Serilog.Events.LogEvent;

namespace ActorVmm.Actors.Logging;

/// <summary>
/// Akka logger that forwards the event stream's log events to Serilog, registered with
/// <c>akka.loggers = ["ActorVmm.Actors.Logging.SerilogLoggerActor, ActorVmm.Actors"]</c> (see <see cref="AkkaConfig"/>).
/// The Serilog logger comes from the actor system's <see cref="SerilogSetup"/>, else <see cref="Serilog.Log.Logger"/>.
/// Each event keeps Akka's timestamp and message template and carries <c>ActorPath</c> (the log source),
/// <c>LogClass</c>, <c>ThreadId</c>, the template's named properties and context properties such as
/// <c>Vcpu</c>/<c>Device</c> (<see cref="LogProperties"/>).
/// An <see cref="UntypedActor"/>, not a ReceiveActor: Akka waits for this actor's reply to
/// <see cref="InitializeLogger"/> while the actor system starts, and a ReceiveActor would first build and compile an
/// expression tree for its handlers (costly start-up work, JIT-compiled).
/// </summary>
public sealed class SerilogLoggerActor : UntypedActor, IRequiresMessageQueue<ILoggerMessageQueueSemantics>
{
    private readonly Serilog.ILogger _logger;

    public SerilogLoggerActor()
        : this(null)
    {
    }

    public SerilogLoggerActor(Serilog.ILogger? logger)
    {
        _logger = logger
            ?? Context.System.Settings.Setup.Get<SerilogSetup>().Select(s => s.Logger).GetOrElse(Serilog.Log.Logger);
    }

    internal static LogEventLevel ToSerilog(Akka.Event.LogLevel level) => level switch
    {
        Akka.Event.LogLevel.DebugLevel => LogEventLevel.Debug,
        Akka.Event.LogLevel.InfoLevel => LogEventLevel.Information,
        Akka.Event.LogLevel.WarningLevel => LogEventLevel.Warning,
        _ => LogEventLevel.Error,
    };

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case AkkaLogEvent e:
                Handle(e);
                break;
            case InitializeLogger:
                Sender.Tell(new LoggerInitialized());
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void Handle(AkkaLogEvent e)
    {
        var level = ToSerilog(e.LogLevel());
        if (!_logger.IsEnabled(level))
        {
            return;
        }

        var (template, args) = e.Message is LogMessage
            ? (e.GetTemplate(), e.GetParameters().ToArray())
            : (Escape(e.Message?.ToString() ?? string.Empty), Array.Empty<object>());

        if (!_logger.BindMessageTemplate(template, args, out var parsed, out var bound))
        {
            parsed = new Serilog.Parsing.MessageTemplateParser().Parse(Escape(template));
            bound = [];
        }

        var properties = new Dictionary<string, LogEventPropertyValue>(StringComparer.Ordinal);
        foreach (var p in bound)
        {
            properties[p.Name] = p.Value;
        }

        if (e.TryGetProperties(out var extra) && extra is not null)
        {
            foreach (var (name, value) in extra)
            {
                if (!properties.ContainsKey(name) && !IsPositional(name) && _logger.BindProperty(name, value, false, out var p))
                {
                    properties[p.Name] = p.Value;
                }
            }
        }

        properties[LogProperties.ActorPath] = new ScalarValue(e.LogSource);
        if (e.LogClass is not null)
        {
            properties[LogProperties.LogClass] = new ScalarValue(e.LogClass.FullName);
        }

        if (e.Thread is not null)
        {
            properties[LogProperties.Thread] = new ScalarValue(e.Thread.ManagedThreadId);
        }

        var timestamp = new DateTimeOffset(DateTime.SpecifyKind(e.Timestamp, DateTimeKind.Utc));
        _logger.Write(new SerilogLogEvent(
            timestamp,
            level,
            e.Cause,
            parsed,
            properties.Select(kv => new LogEventProperty(kv.Key, kv.Value))));
    }

    private static bool IsPositional(string name) => name.Length > 0 && name.All(char.IsDigit);

    private static string Escape(string text) => text.Replace("{", "{{", StringComparison.Ordinal).Replace("}", "}}", StringComparison.Ordinal);
}
