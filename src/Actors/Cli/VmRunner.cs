using ActorVmm.Actors.Settings;

namespace ActorVmm.Actors.Cli;

/// <summary>
/// Runs a VM with validated settings until it stops or <paramref name="cancellationToken"/> is cancelled (Ctrl-C,
/// SIGTERM); returns the process exit code (<see cref="Vm.VmStopReason.ExitCode"/>). The VMM's Serilog logger is
/// <see cref="Serilog.Log.Logger"/> while it runs (pass it to <see cref="Logging.AkkaConfig.CreateSetup"/>).
/// </summary>
public delegate Task<int> VmRunner(ActorVmmSettings settings, CancellationToken cancellationToken);
