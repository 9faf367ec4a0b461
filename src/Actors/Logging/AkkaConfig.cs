using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;
using ActorVmm.Actors.Settings;

namespace ActorVmm.Actors.Logging;

/// <summary>The Akka HOCON the VMM's actor system runs with, derived from <see cref="ActorVmmSettings"/>.</summary>
public static class AkkaConfig
{
    /// <summary>The Akka logger type name (<c>akka.loggers</c>).</summary>
    public const string LoggerTypeName = "ActorVmm.Actors.Logging.SerilogLoggerActor, ActorVmm.Actors";

    /// <summary>The serializer bound to <c>System.Object</c> in place of Akka's JSON serializer (<c>akka.actor.serializers.json</c>).</summary>
    public const string LocalOnlySerializerTypeName = "ActorVmm.Actors.Logging.LocalOnlySerializer, ActorVmm.Actors";

    /// <summary>Dispatcher giving each actor its own thread (vCPU actors: they block in KVM_RUN).</summary>
    public const string VcpuDispatcher = "actorvmm-dispatchers.vcpu";

    /// <summary>Dispatcher for device actors (thread pool, short bursts so one busy device can't starve the rest).</summary>
    public const string DeviceDispatcher = "actorvmm-dispatchers.device";

    /// <summary>Dispatcher with dedicated threads for blocking host I/O (disk images, console files, trace writer).</summary>
    public const string BlockingIoDispatcher = "actorvmm-dispatchers.blocking-io";

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
            actorvmm-dispatchers {
              vcpu {
                type = PinnedDispatcher
              }
              device {
                type = Dispatcher
                throughput = 32
              }
              blocking-io {
                type = ForkJoinDispatcher
                throughput = 16
                dedicated-thread-pool {
                  thread-count = 2
                  threadtype = background
                }
              }
            }
            """;
    }

    /// <summary>The Akka configuration: Serilog logger, log level, stdout silenced, the VMM's dispatchers.</summary>
    public static Config Build(ActorVmmSettings settings) => ConfigurationFactory.ParseString(BuildHocon(settings));

    /// <summary>
    /// Everything <c>ActorSystem.Create(name, setup)</c> needs: <see cref="Build"/> plus a <see cref="SerilogSetup"/>
    /// so that <see cref="SerilogLoggerActor"/> logs to <paramref name="logger"/>.
    /// </summary>
    public static ActorSystemSetup CreateSetup(ActorVmmSettings settings, Serilog.ILogger logger) =>
        BootstrapSetup.Create().WithConfig(Build(settings)).And(new SerilogSetup(logger));
}
