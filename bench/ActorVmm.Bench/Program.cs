using ActorVmm.Bench;

return args.FirstOrDefault() switch
{
    "pio" => PioBench.Run(args.Skip(1).ToArray()),
    "restart" => RestartBench.Run(args.Skip(1).ToArray()),
    "boot" => BootBench.Run(args.Skip(1).ToArray()),
    "replay" => ReplayBench.Run(args.Skip(1).ToArray()),
    "kvm-exits" => KvmExitBench.Run(args.Skip(1).ToArray()),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: ActorVmm.Bench pio [--reads N] [--pinned] | restart [--restarts N] | boot [--runs N] [--kernel K] [--initrd I] [--actorvmm DLL] | replay [--exits N] [--rounds N] [--trace FILE] | kvm-exits [--loops N] [--rounds N]");
    return 2;
}
