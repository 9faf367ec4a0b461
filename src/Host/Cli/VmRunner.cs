using ActorVmm.Actors;
using ActorVmm.Actors.Settings;
using ActorVmm.Host.Settings;

namespace ActorVmm.Host.Cli;

/// <summary>
/// Runs a VM with validated settings until it stops or <paramref name="cancellationToken"/> is cancelled (Ctrl-C,
/// SIGTERM); returns the process exit code (<see cref="VmStopReason.ExitCode"/>). The VMM's Serilog logger is
/// <see cref="Serilog.Log.Logger"/> while it runs (Akka.Logger.Serilog writes there).
/// </summary>
public delegate Task<int> VmRunner(ActorVmmSettings settings, CancellationToken cancellationToken);
