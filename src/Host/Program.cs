return ActorVmm.Actors.Cli.CliApp.Run(args);
