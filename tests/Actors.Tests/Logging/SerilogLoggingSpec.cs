using Akka.Actor;
using Akka.Event;
using ActorVmm.Actors.Logging;
using ActorVmm.Host.Logging;
using ActorVmm.Actors.Settings;
using ActorVmm.Host.Settings;
using Serilog.Core;
using Serilog.Events;
using LogEvent = Serilog.Events.LogEvent;
using Xunit;

namespace ActorVmm.Actors.Tests.Logging;

/// <summary>Collects Serilog events and lets a test wait for one.</summary>
internal sealed class CollectingSink : ILogEventSink
{
    private readonly System.Collections.Concurrent.BlockingCollection<LogEvent> _events = new();

    public void Emit(LogEvent logEvent) => _events.Add(logEvent);

    /// <summary>The next event whose rendered message contains <paramref name="text"/>.</summary>
    public LogEvent WaitFor(string text)
    {
        // Not a timed assertion: the generous bound only keeps a broken logger from hanging the run.
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            var e = _events.Take(cts.Token);
            if (e.RenderMessage().Contains(text, StringComparison.Ordinal))
            {
                return e;
            }
        }
    }
}

/// <summary>
/// The VMM's actor system logs through Akka.Logger.Serilog, which writes to <see cref="Serilog.Log.Logger"/>: specs
/// that set that process-wide logger run in one collection, one at a time.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessLoggerCollection
{
    public const string Name = "Cli";
}

[Collection(ProcessLoggerCollection.Name)]
public sealed class SerilogLoggingSpec : Akka.TestKit.Xunit2.TestKit
{
    private static readonly CollectingSink Sink = new();

    public SerilogLoggingSpec()
        : base(Config(), "serilog-spec")
    {
    }

    private static Akka.Configuration.Config Config()
    {
        Serilog.Log.Logger = new Serilog.LoggerConfiguration().MinimumLevel.Verbose().WriteTo.Sink(Sink).CreateLogger();
        return AkkaConfig.Build(SettingsLoader.Reference with { Logging = LoggingSettings.Default with { Level = LoggingLevel.Debug } });
    }

    private sealed class Chatty : ReceiveActor
    {
        public Chatty()
        {
            var log = Context.GetLogger();
            var vcpuLog = log.ForVcpu(3);
            var deviceLog = log.ForDevice("serial0");
            Receive<string>(s => s == "info", _ => log.Info("greeting {Name}", "world"));
            Receive<string>(s => s == "vcpu", _ => vcpuLog.Warning("guest exit {Reason}", "hlt"));
            Receive<string>(s => s == "device", _ => deviceLog.Debug("uart register {Offset} written", 5));
            Receive<string>(s => s == "error", _ => log.Error(new InvalidOperationException("boom"), "device failed"));
            Receive<string>(s => s == "braces", _ => log.Info("literal {{not a hole}} and {0}", 42));
        }
    }

    [Fact]
    public void Info_should_reach_Serilog_with_the_actor_path()
    {
        var actor = Sys.ActorOf(Props.Create(() => new Chatty()), "chatty-info");

        actor.Tell("info");
        var e = Sink.WaitFor("greeting");

        Assert.Equal(LogEventLevel.Information, e.Level);
        Assert.Equal("greeting \"world\"", e.RenderMessage());
        Assert.Equal("world", ((ScalarValue)e.Properties["Name"]).Value);
        Assert.Equal(actor.Path.ToString(), ((ScalarValue)e.Properties[LogProperties.ActorPath]).Value);
        Assert.Equal("greeting {Name}", e.MessageTemplate.Text);
    }

    [Fact]
    public void Vcpu_context_should_become_a_property()
    {
        var actor = Sys.ActorOf(Props.Create(() => new Chatty()), "chatty-vcpu");

        actor.Tell("vcpu");
        var e = Sink.WaitFor("guest exit");

        Assert.Equal(LogEventLevel.Warning, e.Level);
        Assert.Equal(3, ((ScalarValue)e.Properties[LogProperties.Vcpu]).Value);
        Assert.Equal("hlt", ((ScalarValue)e.Properties["Reason"]).Value);
    }

    [Fact]
    public void Device_context_should_become_a_property_at_debug_level()
    {
        var actor = Sys.ActorOf(Props.Create(() => new Chatty()), "chatty-device");

        actor.Tell("device");
        var e = Sink.WaitFor("uart register");

        Assert.Equal(LogEventLevel.Debug, e.Level);
        Assert.Equal("serial0", ((ScalarValue)e.Properties[LogProperties.Device]).Value);
        Assert.Equal(5, ((ScalarValue)e.Properties["Offset"]).Value);
    }

    [Fact]
    public void Error_should_carry_the_exception()
    {
        var actor = Sys.ActorOf(Props.Create(() => new Chatty()), "chatty-error");

        actor.Tell("error");
        var e = Sink.WaitFor("device failed");

        Assert.Equal(LogEventLevel.Error, e.Level);
        Assert.IsType<InvalidOperationException>(e.Exception);
    }

    [Fact]
    public void Positional_templates_and_escaped_braces_should_render()
    {
        var actor = Sys.ActorOf(Props.Create(() => new Chatty()), "chatty-braces");

        actor.Tell("braces");
        var e = Sink.WaitFor("literal");

        Assert.Equal("literal {not a hole} and 42", e.RenderMessage());
    }

    [Fact]
    public void Plain_object_messages_should_be_logged_verbatim()
    {
        Sys.EventStream.Publish(new Info("src/{weird}", typeof(SerilogLoggingSpec), "a {raw} message"));
        var e = Sink.WaitFor("a {raw} message");

        Assert.Equal("src/{weird}", ((ScalarValue)e.Properties[LogProperties.LogSource]).Value);
    }
}
