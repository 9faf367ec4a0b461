namespace ActorVmm.Kvm.Timing;

/// <summary>What <see cref="CycleClock"/> reads; chosen once with <see cref="CycleClock.Configure"/>.</summary>
public enum CycleClockSource
{
    /// <summary>The CPU's time-stamp counter (RDTSC) on x86-64 Linux, else Stopwatch. The default.</summary>
    Tsc,

    /// <summary><see cref="System.Diagnostics.Stopwatch"/> (clock_gettime) everywhere.</summary>
    Stopwatch,
}
