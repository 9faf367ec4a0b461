using ActorVmm.Actors;
using System.Buffers.Binary;
using System.Diagnostics;
using ActorVmm.Actors.Bus;
using ActorVmm.Actors.Irq;
using ActorVmm.Actors.Settings;
using ActorVmm.Host.Settings;
using ActorVmm.Actors.Tracing;
using ActorVmm.Host.Tracing;
using ActorVmm.Actors.Vm;
using ActorVmm.Devices;
using ActorVmm.Kvm;
using ActorVmm.Kvm.Interop;
using ActorVmm.Kvm.Memory;
using ActorVmm.Kvm.Timing;
using Akka.Actor;
using Akka.Configuration;

namespace ActorVmm.Bench;

/// <summary>
/// Exits per second on real KVM through the whole actor path: a real-mode guest loops N times over
/// <c>out dx, al; in al, dx</c> on a port of an inline device, then HLTs. Tracing off, statistics only, and
/// statistics plus a full trace to a file (jsonl, Chrome), same guest, one fresh VM per run, modes interleaved over
/// rounds, median shown. A run's rate is its median 1000-access chunk (the whole run's rate is printed too), timed by
/// the device, so VM start and stop are not counted;
/// KVM's own io_exits (KVM_GET_STATS_FD) is checked against the guest's exit count on every run.
/// Beside it, the peer: QEMU running the same loop (<see cref="QemuExitPeer"/>).
/// </summary>
internal static class KvmExitBench
{
    private const ushort Port = 0x510;
    private const ulong Entry = 0x1000;
    private const ulong RamSize = 0x8_0000;

    private static string _phase = "start";

    public static int Run(string[] args)
    {
        var loops = 10_000;
        var clockOnly = args.Contains("--clock-only");
        var interleaved = args.Contains("--interleaved");
        var peer = !args.Contains("--no-peer");
        var rounds = 5;
        var warmupRounds = 1;
        for (var i = 0; i < args.Length - 1; i++)
        {
            switch (args[i])
            {
                case "--loops":
                    loops = int.Parse(args[i + 1]);
                    break;
                case "--rounds":
                    rounds = int.Parse(args[i + 1]);
                    break;
                case "--warmup-rounds":
                    warmupRounds = int.Parse(args[i + 1]);
                    break;
            }
        }

        // Trace files go to the temp directory, as a user's would go to a local disk (inside the nested runner /tmp is
        // a tmpfs; the project folder there is a 9p share, whose writes are emulated device I/O that costs the vCPU).
        var dir = Path.Combine(Path.GetTempPath(), "actorvmm-kvm-exits-bench");
        Directory.CreateDirectory(dir);
        var jsonl = Path.Combine(dir, "kvm-exits.jsonl");
        var chrome = Path.Combine(dir, "kvm-exits.json");
        var config = ConfigurationFactory.ParseString("akka.loglevel = WARNING\nakka.stdout-loglevel = WARNING\n");
        using var system = ActorSystem.Create("bench", config);
        var modes = TracingModes.Standard(jsonl, chrome, buffer: 65536, clockOnly);
        Console.WriteLine(ClockCosts());
        if (interleaved)
        {
            // --statistics-only: just that mode against tracing off (more chunk pairs in the same time).
            var traced = args.Contains("--statistics-only") ? modes[1..2] : modes[1..];
            var code = RunInterleaved(system, traced, loops, rounds, warmupRounds, jsonl, chrome);
            PrintPeer(peer, loops);
            return code;
        }

        Console.WriteLine($"ActorVmm KVM exit benchmark: {Environment.ProcessorCount} cores, .NET {Environment.Version}, {2L * loops:N0} PIO exits per run (out+in), {rounds} rounds of {modes.Length} modes, order rotated per round; load average {LoadAverage()}");
        ModeRun[][] results;
        try
        {
            results = TracingModes.Run(
                modes,
                rounds,
                mode => RunOnce(system, Math.Min(loops, 5_000), mode.Tracer()),
                mode => RunOnce(system, loops, mode.Tracer()));
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            // Say it now and leave: disposing the actor system may wait on the stuck vCPU.
            Console.Error.WriteLine($"kvm-exits: {e.Message}");
            Console.Error.Flush();
            Environment.Exit(1);
            throw;
        }
        TracingModes.Print(modes, results, Console.Out);
        PrintPeer(peer, loops);
        Console.WriteLine($"(trace files: {jsonl} {new FileInfo(jsonl).Length / 1e6:0.0} MB, {chrome} {new FileInfo(chrome).Length / 1e6:0.0} MB; load average at the end {LoadAverage()})");
        File.Delete(jsonl);
        File.Delete(chrome);
        return 0;
    }

    /// <summary>/proc/loadavg's first three fields (inside the nested runner: the runner VM's own load).</summary>
    internal static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "?";
        }
    }

    /// <summary>
    /// Each traced mode against tracing off inside the same run: the tracer is paused (<see cref="VmTracer.Paused"/>:
    /// exits handled exactly as untraced) on every other 1000-exit chunk, so traced and untraced chunks alternate
    /// 50-70 ms apart under the same host conditions. A traced chunk's cost is measured against the mean of its two
    /// untraced neighbours; the median over all chunks of all rounds is printed. The first <paramref name="warmupRounds"/>
    /// rounds are run and printed but not counted: in the process's first seconds the runtime's background tier-1
    /// compilation shares the CPU (on the one-CPU runner, the only one) with the vCPU, and the traced chunks, which run
    /// more code, pay more of it.
    /// </summary>
    private static int RunInterleaved(ActorSystem system, TracingMode[] modes, int loops, int rounds, int warmupRounds, string jsonl, string chrome)
    {
        Console.WriteLine($"ActorVmm KVM exit benchmark, interleaved: {Environment.ProcessorCount} cores, .NET {Environment.Version}, clock {CycleClock.Source}, {2L * loops:N0} PIO exits per run (out+in), tracing paused on every other {TimestampingDevice.Chunk}-exit chunk, {warmupRounds} warm-up + {rounds} rounds of {modes.Length} modes; load average {LoadAverage()}");
        foreach (var mode in modes)
        {
            RunOnce(system, Math.Min(loops, 5_000), mode.Tracer(), interleave: true);
        }

        var costs = modes.Select(_ => new List<double>()).ToArray();
        var tracedRates = modes.Select(_ => new List<double>()).ToArray();
        var untracedRates = modes.Select(_ => new List<double>()).ToArray();
        var dropped = new long[modes.Length];
        for (var round = -warmupRounds; round < rounds; round++)
        {
            var line = new List<string>();
            for (var i = 0; i < modes.Length; i++)
            {
                var m = ((round % modes.Length) + modes.Length + i) % modes.Length;
                var run = RunOnce(system, loops, modes[m].Tracer(), interleave: true);
                line.Add($"{modes[m].Name} {TracingModes.Median(run.PairedCosts) * 100:0.0}%");
                if (round < 0)
                {
                    continue;
                }

                costs[m].AddRange(run.PairedCosts);
                tracedRates[m].AddRange(run.TracedRates);
                untracedRates[m].AddRange(run.UntracedRates);
                dropped[m] = Math.Max(dropped[m], run.Run.Dropped);
            }

            Console.Error.WriteLine($"{(round < 0 ? "warm-up round (not counted)" : $"round {round + 1}/{rounds}")}: {string.Join("  ", line)}");
        }

        Console.WriteLine($"{"mode",-26} {"traced chunks exits/s",22} {"untraced chunks exits/s",24} {"cost: median",13} {"[25%, 75%]",18} {"chunk pairs",12} {"dropped",9}");
        for (var m = 0; m < modes.Length; m++)
        {
            var sorted = costs[m].Order().ToArray();
            Console.WriteLine($"{modes[m].Name,-26} {TracingModes.Median(tracedRates[m]),22:N0} {TracingModes.Median(untracedRates[m]),24:N0} {TracingModes.Median(sorted) * 100,12:0.0}% {$"[{Quantile(sorted, 0.25) * 100:0.0}%, {Quantile(sorted, 0.75) * 100:0.0}%]",18} {sorted.Length,12} {dropped[m],9:N0}");
        }

        Console.WriteLine($"(load average at the end {LoadAverage()})");
        File.Delete(jsonl);
        File.Delete(chrome);
        return 0;
    }

    private static void PrintPeer(bool peer, int loops)
    {
        if (!peer)
        {
            return;
        }

        var rate = QemuExitPeer.Measure(loops, repeats: 3);
        Console.WriteLine(rate is null
            ? "peer: QEMU figure unavailable (see above)"
            : $"peer: QEMU (-enable-kvm -M pc -cpu host), the same loop as its firmware on an unassigned port: {rate:N0} exits/s (slope between {2 * loops:N0} and {6 * loops:N0} exits, median of 3 runs each)");
    }

    /// <summary>What one read of each clock costs here (the tracer reads <see cref="CycleClock"/> twice per exit).</summary>
    internal static string ClockCosts()
    {
        // The first pass warms the loops up (tier-0 code, the stub's first translation under the runner's TCG).
        ClockLoops(1_000, out _, out _);
        ClockLoops(200_000, out var stopwatchNs, out var cycleNs);
        var clocksource = "?";
        try
        {
            clocksource = File.ReadAllText("/sys/devices/system/clocksource/clocksource0/current_clocksource").Trim();
        }
        catch (IOException)
        {
        }

        return $"clock reads: CycleClock ({CycleClock.Source}{(CycleClock.UnderQemuTcg() ? ", under QEMU TCG" : "")}, {CycleClock.Frequency / 1e6:0.0} MHz) {cycleNs:0.0} ns, Stopwatch (kernel clocksource {clocksource}) {stopwatchNs:0.0} ns; statistics-only tracing times 1 exit in {new VmTracer(statistics: true).LatencySampleInterval}";
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static void ClockLoops(int reads, out double stopwatchNs, out double cycleNs)
    {
        long sink = 0;
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < reads; i++)
        {
            sink += Stopwatch.GetTimestamp();
        }

        stopwatchNs = Stopwatch.GetElapsedTime(started).TotalNanoseconds / reads;
        started = Stopwatch.GetTimestamp();
        for (var i = 0; i < reads; i++)
        {
            sink += CycleClock.Now();
        }

        cycleNs = Stopwatch.GetElapsedTime(started).TotalNanoseconds / reads;
        GC.KeepAlive(sink);
    }

    private static double Quantile(double[] sorted, double q) =>
        sorted.Length == 0 ? double.NaN : sorted[(int)Math.Clamp(Math.Round(q * (sorted.Length - 1)), 0, sorted.Length - 1)];

    private static ModeRun RunOnce(ActorSystem system, int loops, VmTracer? tracer) => RunOnce(system, loops, tracer, interleave: false).Run;

    private static InterleavedRun RunOnce(ActorSystem system, int loops, VmTracer? tracer, bool interleave)
    {
        TimestampingDevice? device = null;
        using var watchdog = new Timer(
            _ =>
            {
                // Whatever hangs (KVM under the nested runner, the VM, the tracer): say where, then leave at once.
                Console.Error.WriteLine($"kvm-exits: a run is stuck after 6 minutes in phase '{Volatile.Read(ref _phase)}': device saw {device?.Accesses:N0} of {2L * loops:N0} accesses, tracer {(tracer is null ? "off" : tracer.TracingEnabled ? $"trace (dropped {tracer.Dropped})" : "stats")}");
                Console.Error.Flush();
                Process.GetCurrentProcess().Kill();
            },
            null,
            TimeSpan.FromMinutes(6),
            Timeout.InfiniteTimeSpan);
        Volatile.Write(ref _phase, "create guest");
        var guest = GuestVm.Create(loops);
        device = new TimestampingDevice(2L * loops, interleave ? tracer : null);
        using var kvmStats = guest.Vcpu.OpenStats();
        var before = kvmStats.Read()["io_exits"];
        var blueprint = new VmBlueprint(
            "kvm-exits",
            [guest.Vcpu],
            [new DeviceBlueprint("port", _ => device, [BusRange.Pio(Port, 1)])],
            new InMemoryIrqChip(),
            new DeviceSettings(TimeSpan.FromSeconds(5)),
            SupervisionSettings.Default,
            Resources: guest)
        {
            Tracer = tracer,
        };
        Volatile.Write(ref _phase, "spawn");
        var vm = VmActor.Spawn(system, blueprint, $"kvm-exits-{Guid.NewGuid():N}");
        Volatile.Write(ref _phase, "run");
        if (!vm.Stopped.Wait(TimeSpan.FromMinutes(5)))
        {
            // A hang is a finding, not a number: say where the guest was.
            throw new TimeoutException(
                $"the VM did not stop within 5 minutes: device saw {device.Accesses:N0} of {2L * loops:N0} accesses, KVM io_exits {kvmStats.Read()["io_exits"] - before:N0}, tracer {(tracer is null ? "off" : tracer.TracingEnabled ? "trace" : "stats")}");
        }

        var reason = vm.Stopped.Result;
        Volatile.Write(ref _phase, "complete tracer");
        tracer?.CompleteAsync().GetAwaiter().GetResult();
        Volatile.Write(ref _phase, "check");
        var ioExits = kvmStats.Read()["io_exits"] - before;
        if (reason.Kind != VmStopReasonKind.PowerOff || device.Accesses != (long)ioExits || device.Accesses < 2L * loops)
        {
            throw new InvalidOperationException(
                $"guest run went wrong: {reason}, device saw {device.Accesses:N0} accesses, KVM io_exits {ioExits:N0}, expected {2L * loops:N0}");
        }

        if (device.Accesses != 2L * loops)
        {
            // Seen under the nested runner (emulated SVM): the guest re-executed an out/in pair. KVM counted the extra
            // exits too and the device saw each once, so the run still measures what it should; say it.
            Console.Error.WriteLine($"kvm-exits: note: {device.Accesses - 2L * loops} PIO exits more than the loop makes ({device.Accesses:N0}; KVM io_exits agree)");
        }

        // First to last access: (accesses - 1) exit round trips.
        var seconds = (double)(device.LastTicks - device.FirstTicks) / Stopwatch.Frequency;
        var run = new ModeRun(device.MedianChunkRate(), tracer?.Dropped ?? 0, (double)(device.LastAllocated - device.FirstAllocated) / (device.Accesses - 1), (device.Accesses - 1) / seconds);
        return interleave ? device.Interleaved(run) : new InterleavedRun(run, [], [], []);
    }

    /// <summary>
    /// Counts accesses (on the vCPU thread: inline); timestamps the first, every <see cref="Chunk"/>th and the last,
    /// and the bytes allocated by the first and the last.
    /// </summary>
    private sealed class TimestampingDevice(long expected, VmTracer? pauseEveryOtherChunk = null) : IBusDevice
    {
        /// <summary>Accesses per timed chunk.</summary>
        public const int Chunk = 1000;

        private readonly long[] _chunkTicks = new long[(expected - 1) / Chunk + 1];
        private byte _value;

        /// <summary>
        /// Accesses per second of the median chunk: a stretch of the run in which the host (other processes, the
        /// nested runner's TCG threads) took CPU away weighs as one chunk, not on the whole run.
        /// </summary>
        public double MedianChunkRate()
        {
            var rates = new List<double>();
            for (var i = 1; i < _chunkTicks.Length && _chunkTicks[i] != 0; i++)
            {
                rates.Add(Chunk * (double)Stopwatch.Frequency / (_chunkTicks[i] - _chunkTicks[i - 1]));
            }

            return rates.Count == 0 ? 0 : TracingModes.Median(rates);
        }

        /// <summary>
        /// With the tracer paused on odd chunks: each even (traced) chunk's cost against the mean rate of its two
        /// odd neighbours (chunk 0, the warm-up, is skipped), and the traced and untraced chunk rates.
        /// </summary>
        public InterleavedRun Interleaved(ModeRun run)
        {
            var rates = new List<double>();
            for (var i = 1; i < _chunkTicks.Length && _chunkTicks[i] != 0; i++)
            {
                rates.Add(Chunk * (double)Stopwatch.Frequency / (_chunkTicks[i] - _chunkTicks[i - 1]));
            }

            // rates[c] is chunk c's rate; chunk c is traced when c is even.
            var costs = new List<double>();
            var traced = new List<double>();
            var untraced = new List<double>();
            for (var c = 1; c < rates.Count; c++)
            {
                (c % 2 == 0 ? traced : untraced).Add(rates[c]);
                if (c % 2 == 0 && c + 1 < rates.Count)
                {
                    costs.Add(1 - rates[c] / ((rates[c - 1] + rates[c + 1]) / 2));
                }
            }

            return new InterleavedRun(run, costs, traced, untraced);
        }

        public string Name => "port";

        public long Accesses { get; private set; }

        public long FirstTicks { get; private set; }

        public long LastTicks { get; private set; }

        public long FirstAllocated { get; private set; }

        public long LastAllocated { get; private set; }

        public void Read(ulong offset, Span<byte> data)
        {
            data.Fill(_value);
            Touch();
        }

        public void Write(ulong offset, ReadOnlySpan<byte> data)
        {
            _value = data.IsEmpty ? (byte)0 : data[0];
            Touch();
        }

        private void Touch()
        {
            var accesses = ++Accesses;
            if ((accesses - 1) % Chunk == 0 && (accesses - 1) / Chunk < _chunkTicks.Length)
            {
                if (accesses == 1)
                {
                    FirstAllocated = GC.GetTotalAllocatedBytes(precise: true);
                }

                _chunkTicks[(accesses - 1) / Chunk] = Stopwatch.GetTimestamp();
                if (pauseEveryOtherChunk is not null)
                {
                    // From this exit on (the next one, for the exit being handled now), odd chunks run untraced.
                    pauseEveryOtherChunk.Paused = (accesses - 1) / Chunk % 2 == 1;
                }

                if (accesses == 1)
                {
                    FirstTicks = _chunkTicks[0];
                }
            }
            else if (accesses == expected)
            {
                LastTicks = Stopwatch.GetTimestamp();
                LastAllocated = GC.GetTotalAllocatedBytes(precise: true);
            }
        }
    }

    /// <summary>A run, and with interleaving the per-chunk costs and traced/untraced chunk rates.</summary>
    private sealed record InterleavedRun(ModeRun Run, List<double> PairedCosts, List<double> TracedRates, List<double> UntracedRates);

    /// <summary>One-vCPU KVM VM with 512 KiB of RAM, the vCPU in real mode at the loop; disposed by the VM actor.</summary>
    private sealed class GuestVm : IDisposable
    {
        private readonly KvmSystem _kvm;
        private readonly KvmVm _vm;
        private readonly GuestMemory _memory;

        private GuestVm(KvmSystem kvm, KvmVm vm, GuestMemory memory, Vcpu vcpu)
        {
            _kvm = kvm;
            _vm = vm;
            _memory = memory;
            Vcpu = vcpu;
        }

        public Vcpu Vcpu { get; }

        public static GuestVm Create(int loops)
        {
            var kvm = KvmSystem.Open();
            var vm = kvm.CreateVm();
            vm.SetIdentityMapAddress(0xfffb_c000);
            vm.SetTssAddress(0xfffb_d000);
            var memory = GuestMemory.Create([(GuestAddress.Zero, RamSize)]);
            vm.MapMemory(memory);

            // mov ecx, loops; mov dx, Port; l: out dx, al; in al, dx; dec ecx; jnz l; hlt
            var code = new byte[] { 0x66, 0xB9, 0, 0, 0, 0, 0xBA, 0, 0, 0xEE, 0xEC, 0x66, 0x49, 0x75, 0xFA, 0xF4 };
            BinaryPrimitives.WriteInt32LittleEndian(code.AsSpan(2), loops);
            BinaryPrimitives.WriteUInt16LittleEndian(code.AsSpan(7), Port);
            memory.Write(new GuestAddress(Entry), code);

            var vcpu = vm.CreateVcpu(0);
            var sregs = vcpu.GetSregs();
            foreach (ref var segment in System.Runtime.InteropServices.MemoryMarshal.CreateSpan(ref sregs.Cs, 6))
            {
                segment.Base = 0;
                segment.Selector = 0;
            }

            vcpu.SetSregs(sregs);
            vcpu.SetRegs(new KvmRegs { Rip = Entry, Rsp = 0x7000, Rflags = 0x2 });
            return new GuestVm(kvm, vm, memory, vcpu);
        }

        public void Dispose()
        {
            Vcpu.Dispose();
            _vm.Dispose();
            _memory.Dispose();
            _kvm.Dispose();
        }
    }
}
