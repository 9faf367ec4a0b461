using Akka.Actor.Setup;

namespace ActorVmm.Actors.Logging;

/// <summary>
/// Hands a Serilog logger to <see cref="SerilogLoggerActor"/> of one actor system:
/// <c>ActorSystem.Create(name, BootstrapSetup.Create().WithConfig(config).And(new SerilogSetup(logger)))</c>.
/// Without it the actor logs to <see cref="Serilog.Log.Logger"/>.
/// </summary>
public sealed class SerilogSetup : Setup
{
    public SerilogSetup(Serilog.ILogger logger)
    {
        Logger = logger ?? throw new ArgumentNullException(nameof(logger));
    }

    public Serilog.ILogger Logger { get; }
}
