using ActorVmm.Bench;
using ActorVmm.Kvm.Timing;

// As for the VMM: ACTORVMM_CLOCK=stopwatch makes exit timing use clock_gettime instead of the TSC.
if (string.Equals(Environment.GetEnvironmentVariable("ACTORVMM_CLOCK"), "stopwatch", StringComparison.OrdinalIgnoreCase))
{
    CycleClock.Configure(CycleClockSource.Stopwatch);
}

return args.FirstOrDefault() switch
{
    "pio" => PioBench.Run(args.Skip(1).ToArray()),
    "restart" => RestartBench.Run(args.Skip(1).ToArray()),
    "boot" => BootBench.Run(args.Skip(1).ToArray()),
    "replay" => ReplayBench.Run(args.Skip(1).ToArray()),
    "kvm-exits" => KvmExitBench.Run(args.Skip(1).ToArray()),
    "serve" => ServeBench.Run(args.Skip(1).ToArray()),
    "snapshot" => SnapshotBench.Run(args.Skip(1).ToArray()),
    "net" => NetBench.Run(args.Skip(1).ToArray()),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: ActorVmm.Bench pio [--reads N] [--pinned] | restart [--restarts N] | boot [--runs N] [--kernel K] [--initrd I] [--actorvmm DLL] [--actorvmm-b DLL] [--acpi-off] [--verbose] | replay [--exits N (1000000)] [--rounds N (9)] [--trace FILE] [--clock-only] | kvm-exits [--loops N (10000: 2N exits a run)] [--rounds N (5)] [--clock-only] [--interleaved [--statistics-only] [--warmup-rounds N (1)]] [--no-peer] | serve [--vms N (4)] [--memory MiB (128)] [--api-rounds N (300)] [--script NAME (idle)] [--actorvmm PATH] [--no-peer] | snapshot [--memory MiB,... (256,1024)] [--rounds N (3)] [--actorvmm PATH] [--dir DIR] [--no-peer | --peer-only] | net [--seconds N (10)] [--rounds N (3)] [--pings N (20)] [--memory MiB (256)] [--actorvmm PATH] [--initrd I] [--no-switch] [--no-bridge] [--no-peer | --peer-only]");
    return 2;
}
