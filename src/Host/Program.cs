using ActorVmm.Actors.Cli;
using ActorVmm.Actors.Machine;
using ActorVmm.Kvm.Timing;

// ACTORVMM_CLOCK=stopwatch makes exit tracing time with clock_gettime instead of the TSC.
if (string.Equals(Environment.GetEnvironmentVariable("ACTORVMM_CLOCK"), "stopwatch", StringComparison.OrdinalIgnoreCase))
{
    CycleClock.Configure(CycleClockSource.Stopwatch);
}

CliApp.DefaultRunner = (settings, cancellation) => KvmVmRunner.RunAsync(settings, cancellation);
return CliApp.Run(args);
