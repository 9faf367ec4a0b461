using ActorVmm.Host.Serve;
using ActorVmm.Actors.Vcpu;
using ActorVmm.Host.Cli;
using ActorVmm.Host.Composition;
using ActorVmm.Kvm.Timing;

// The program is the only place that reads the environment; the libraries take what it finds as arguments.
// ACTORVMM_CLOCK=stopwatch: exit tracing times with clock_gettime instead of the TSC.
if (string.Equals(Environment.GetEnvironmentVariable("ACTORVMM_CLOCK"), "stopwatch", StringComparison.OrdinalIgnoreCase))
{
    CycleClock.Configure(CycleClockSource.Stopwatch);
}

// ACTORVMM_STARTUP_REPORT=1: one line per start-up phase on stderr (tools/bench/startup.sh).
if (Environment.GetEnvironmentVariable("ACTORVMM_STARTUP_REPORT") == "1")
{
    StartupProbe.Enable(Console.Error);
}

return CliApp.Run(
    args,
    (settings, cancellation) => RunCommand.RunAsync(settings, cancellation),
    serviceFactory: VmService.Create,
    apiSocket: Environment.GetEnvironmentVariable("ACTORVMM_API_SOCK"));
