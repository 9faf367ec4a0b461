using ActorVmm.Actors.Vcpu;
using ActorVmm.Host.Cli;
using ActorVmm.Host.Machine;

// The program is the only place that reads the environment; the libraries take what it finds as arguments.
if (Environment.GetEnvironmentVariable("ACTORVMM_STARTUP_REPORT") == "1")
{
    StartupProbe.Enable(Console.Error);
}

return CliApp.Run(args, (settings, cancellation) => KvmVmRunner.RunAsync(settings, cancellation));
