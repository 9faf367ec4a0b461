using System.Diagnostics;
using System.Globalization;
using ActorVmm.Actors.Vm;
using ActorVmm.Host.Cli;
using ActorVmm.Host.Composition;
using ActorVmm.Host.Settings;
using ActorVmm.Kvm.Linux;
using ActorVmm.Kvm.Memory;
using ActorVmm.Vmm.Tests.Support;
using Akka.Actor;
using Akka.Configuration;

namespace ActorVmm.Vmm.Tests.Boot;

/// <summary>
/// Performance mode: guest RAM on the host's 2M hugetlb pool (reserved here for the test: the runner is root) and the
/// vCPU and I/O threads pinned. The runner has one CPU, so the pinning there is to CPU 0; on a host with more CPUs the
/// last allowed one is used, which an unpinned thread would not show.
/// </summary>
[Trait("Category", "Kvm")]
public sealed class HugePagesAndPinningTests
{
    private const string NrHugePages = "/proc/sys/vm/nr_hugepages";
    private const string Pool2M = "/sys/kernel/mm/hugepages/hugepages-2048kB";

    [Fact]
    public async Task A_guest_on_2M_huge_pages_with_pinned_threads_should_boot_with_its_RAM_on_hugetlb_pages_and_each_thread_on_its_cpu()
    {
        using var pool = PoolReservation.Grow(80);
        Assert.True(pool.Available >= 64, $"the runner could only reserve {pool.Available} free 2M pages");
        var cpu = ThreadScheduling.AllowedCpus().Cpus[^1];
        var settings = Settings(vm => vm with
        {
            HugePages = HugePages.Size2M,
            PinVcpus = CpuSet.Of(cpu),
            PinIo = CpuSet.Of(cpu),
            Rng = true,
        });
        var capture = new SerialCapture();
        var system = ActorSystem.Create("vmm-test", ConfigurationFactory.ParseString("akka.loglevel = WARNING\nakka.stdout-loglevel = WARNING"));
        try
        {
            var machine = VmBuilder.Build(settings, new VmIo([capture.Write]));
            var ram = machine.Blueprint.Machine!.Memory.Regions.Single();
            var handle = VmActor.Spawn(system, machine.Blueprint, "vm0");
            var booted = Stopwatch.StartNew();
            while (!capture.Text.Contains("idle: up", StringComparison.Ordinal))
            {
                if (handle.Stopped.IsCompleted || booted.Elapsed > GuestRun.Deadline)
                {
                    handle.RequestStop("test: the guest did not come up");
                    Assert.Fail($"the guest did not reach its idle script ({(await handle.Stopped).Message}):\n{Tail(capture.Text)}");
                }

                await Task.Delay(50, TestContext.Current.CancellationToken);
            }

            var mapping = Smaps((ulong)ram.HostAddress);
            var threads = Threads();
            handle.RequestStop("test: done");
            await handle.Stopped;

            Console.Error.WriteLine($"hugepages-figures: boot-to-idle={booted.Elapsed:g} smaps: {mapping.Header} | {mapping.Field("Size")} | {mapping.Field("KernelPageSize")} | {mapping.Field("Private_Hugetlb")}");
            Assert.Equal(128UL << 20, ram.Size);
            Assert.Equal("2048 kB", mapping.Field("KernelPageSize"));
            Assert.Equal("131072 kB", mapping.Field("Size"));
            Assert.NotEqual("0 kB", mapping.Field("Private_Hugetlb"));
            Assert.Contains("anon_hugepage", mapping.Header, StringComparison.Ordinal);

            var expected = cpu.ToString(CultureInfo.InvariantCulture);
            Console.Error.WriteLine($"pinning-figures: {string.Join(", ", threads.Where(t => IsVmThread(t.Name)).Select(t => $"{t.Name}={t.Cpus}"))}");
            Assert.Equal(expected, Assert.Single(threads, t => t.Name == "vcpu0").Cpus);
            var io = threads.Where(t => t.Name.StartsWith("queue", StringComparison.Ordinal) || t.Name.StartsWith("irq-resample", StringComparison.Ordinal)).ToList();
            Assert.NotEmpty(io);
            Assert.All(io, t => Assert.Equal(expected, t.Cpus));
        }
        finally
        {
            await system.Terminate();
        }
    }

    [Fact]
    public void A_pool_too_small_should_be_refused_in_one_line_naming_the_numbers_and_reserve_nothing()
    {
        using var pool = PoolReservation.Grow(10);
        var settings = Settings(vm => vm with { HugePages = HugePages.Size2M });

        var error = Assert.Throws<VmBuildException>(() => VmBuilder.Build(settings, new VmIo([_ => { }])));

        Assert.StartsWith("huge pages 2M: guest RAM needs 64 pages, the pool has ", error.Message, StringComparison.Ordinal);
        Assert.Contains("grow it as root: echo ", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
        Assert.Equal(pool.ReservedBefore, PoolReservation.Read("resv_hugepages"));
    }

    [Fact]
    public void Pinning_to_a_cpu_outside_the_allowed_set_should_exit_2_with_one_line()
    {
        // CPU 7 on the one-CPU runner (the first CPU from 7 this process may not use, in general).
        var allowed = ThreadScheduling.AllowedCpus();
        var outside = Enumerable.Range(7, CpuSet.MaxCpus - 7).First(c => !allowed.Contains(c));
        var error = new StringWriter();

        var code = CliApp.Run(["run", "--pin-vcpus", $"{outside}", "--log-level", "off"], (s, ct) => RunCommand.RunAsync(s, ct), new StringWriter(), error);

        Assert.Equal(CliApp.ExitBadInput, code);
        Assert.Equal($"actorvmm: --pin-vcpus must name CPUs this process may run on ({allowed}), not {outside}: {outside}", error.ToString().TrimEnd());
    }

    private static ActorVmmSettings Settings(Func<VmSettings, VmSettings> configure)
    {
        var reference = SettingsLoader.Reference;
        return reference with
        {
            Vm = configure(reference.Vm with
            {
                Cpus = 1,
                MemoryBytes = 128UL << 20,
                Kernel = null,
                Initrd = null,
                Cmdline = $"{GuestRun.BaseCmdline} actorvmm.script=idle",
            }),
        };
    }

    private static bool IsVmThread(string name) =>
        name.StartsWith("vcpu", StringComparison.Ordinal) || name.StartsWith("queue", StringComparison.Ordinal)
        || name.StartsWith("irq-resample", StringComparison.Ordinal);

    /// <summary>This process's threads: name (comm) and Cpus_allowed_list.</summary>
    private static List<(string Name, string Cpus)> Threads()
    {
        var threads = new List<(string, string)>();
        foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            try
            {
                var name = File.ReadAllText(Path.Combine(task, "comm")).Trim();
                var cpus = File.ReadLines(Path.Combine(task, "status")).Single(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal)).Split('\t')[1].Trim();
                threads.Add((name, cpus));
            }
            catch (IOException)
            {
                // The thread ended meanwhile.
            }
        }

        return threads;
    }

    /// <summary>The /proc/self/smaps entry of the mapping that starts at <paramref name="start"/>.</summary>
    private static SmapsEntry Smaps(ulong start)
    {
        var prefix = start.ToString("x", CultureInfo.InvariantCulture) + "-";
        var lines = File.ReadAllLines("/proc/self/smaps");
        var at = Array.FindIndex(lines, l => l.StartsWith(prefix, StringComparison.Ordinal));
        Assert.True(at >= 0, $"no mapping starts at 0x{start:x}");
        var fields = new Dictionary<string, string>();
        for (var i = at + 1; i < lines.Length && lines[i].Contains(':', StringComparison.Ordinal) && !lines[i].Contains('-', StringComparison.Ordinal); i++)
        {
            var colon = lines[i].IndexOf(':', StringComparison.Ordinal);
            fields[lines[i][..colon]] = lines[i][(colon + 1)..].Trim();
        }

        return new SmapsEntry(lines[at], fields);
    }

    private static string Tail(string text) => text.Length <= 4000 ? text : text[^4000..];

    private sealed record SmapsEntry(string Header, Dictionary<string, string> Fields)
    {
        public string Field(string name) => Fields.TryGetValue(name, out var value) ? value : $"(no {name})";
    }

    /// <summary>Grows the 2M pool by some pages for one test (root only) and puts nr_hugepages back after.</summary>
    private sealed class PoolReservation : IDisposable
    {
        private readonly string _before;

        private PoolReservation(string before)
        {
            _before = before;
        }

        /// <summary>Free, unreserved pages once grown.</summary>
        public ulong Available => Read("free_hugepages") - Read("resv_hugepages");

        public ulong ReservedBefore { get; private init; }

        public static PoolReservation Grow(ulong pages)
        {
            Assert.SkipUnless(Environment.UserName == "root" && File.Exists(NrHugePages), "growing the huge page pool needs root");
            var before = File.ReadAllText(NrHugePages).Trim();
            var reservation = new PoolReservation(before) { ReservedBefore = Read("resv_hugepages") };
            var free = Read("free_hugepages") - Read("resv_hugepages");
            var target = ulong.Parse(before, CultureInfo.InvariantCulture) - free + pages;
            File.WriteAllText(NrHugePages, target.ToString(CultureInfo.InvariantCulture));
            return reservation;
        }

        public static ulong Read(string file) => ulong.Parse(File.ReadAllText($"{Pool2M}/{file}").Trim(), CultureInfo.InvariantCulture);

        public void Dispose() => File.WriteAllText(NrHugePages, _before);
    }
}
