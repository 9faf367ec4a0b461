using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;
using ActorVmm.Actors.Settings;
using ActorVmm.Host.Settings;
using ActorVmm.Actors.Logging;

namespace ActorVmm.Host.Logging;

/// <summary>The Akka HOCON the VMM's actor system runs with, derived from <see cref="ActorVmmSettings"/>.</summary>
public static class AkkaConfig
{
    /// <summary>The Akka logger type name (<c>akka.loggers</c>).</summary>
    public const string LoggerTypeName = "Akka.Logger.Serilog.SerilogLogger, Akka.Logger.Serilog";

    /// <summary>Akka.Logger.Serilog's formatter of semantic message templates (<c>akka.logger-formatter</c>).</summary>
    public const string LoggerFormatterTypeName = "Akka.Logger.Serilog.SerilogLogMessageFormatter, Akka.Logger.Serilog";

    /// <summary>The serializer bound to <c>System.Object</c> in place of Akka's JSON serializer (<c>akka.actor.serializers.json</c>).</summary>
    public const string LocalOnlySerializerTypeName = "ActorVmm.Host.Logging.LocalOnlySerializer, actorvmm";

    /// <summary>The Akka configuration as HOCON text.</summary>
    public static string BuildHocon(ActorVmmSettings settings)
    {
        var level = settings.Logging.Level switch
        {
            LoggingLevel.Debug => "DEBUG",
            LoggingLevel.Info => "INFO",
            LoggingLevel.Warning => "WARNING",
            LoggingLevel.Error => "ERROR",
            _ => "OFF",
        };
        var debug = settings.Logging.Level == LoggingLevel.Debug ? "on" : "off";
        return $$"""
            akka {
              loggers = ["{{LoggerTypeName}}"]
              # Message templates become Serilog properties ("exit {Reason}" carries Reason).
              logger-formatter = "{{LoggerFormatterTypeName}}"
              loglevel = {{level}}
              # Akka's own minimal logger prints to stdout, which belongs to the guest's console.
              stdout-loglevel = OFF
              log-config-on-start = off
              log-dead-letters = 10
              log-dead-letters-during-shutdown = off
              # Nested KVM under TCG starts slowly.
              logger-startup-timeout = 30s
              # The VMM stops its actors itself; Terminate() need not run (and log) Akka's shutdown phases.
              coordinated-shutdown.run-by-actor-system-terminate = off
              actor {
                # Local-only: nothing is serialized, so the default object serializer need not be Newtonsoft JSON
                # (loaded and set up while the actor system starts). See LocalOnlySerializer.
                serializers.json = "{{LocalOnlySerializerTypeName}}"
                debug {
                  unhandled = {{debug}}
                  lifecycle = off
                  receive = off
                }
              }
            }
            """;
    }

    /// <summary>The Akka configuration: Serilog logger, log level, stdout silenced, local-only serializer.</summary>
    public static Config Build(ActorVmmSettings settings) => ConfigurationFactory.ParseString(BuildHocon(settings));
}
