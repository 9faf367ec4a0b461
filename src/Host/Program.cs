using ActorVmm.Actors.Cli;
using ActorVmm.Actors.Machine;

CliApp.DefaultRunner = (settings, cancellation) => KvmVmRunner.RunAsync(settings, cancellation);
return CliApp.Run(args);
