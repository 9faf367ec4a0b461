using ActorVmm.Host.Cli;
using ActorVmm.Host.GuestConsole;
using ActorVmm.Actors.Settings;
using ActorVmm.Host.Settings;
using ActorVmm.Kvm.Linux;
using ActorVmm.Kvm.Memory;
using ActorVmm.Kvm.X86;
using Xunit;

namespace ActorVmm.Actors.Tests.Cli;

[Collection("Cli")] // CliApp swaps Serilog.Log.Logger while a run lasts
public sealed class CliAppSpecs : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("actorvmm-cli-").FullName;
    private readonly StringWriter _out = new();
    private readonly StringWriter _err = new();
    private ActorVmmSettings? _ran;
    private int _runs;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string FileWith(string name, string content = "x")
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, content);
        return path;
    }

    private Task<int> Runner(ActorVmmSettings settings, CancellationToken ct)
    {
        _ran = settings;
        _runs++;
        return Task.FromResult(0);
    }

    private int Run(params string[] args) => CliApp.Run(args, Runner, _out, _err);

    private string OneErrorLine()
    {
        var lines = _err.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        return lines[0].TrimEnd('\r');
    }

    [Fact]
    public void Run_without_options_should_hand_the_reference_defaults_to_the_runner()
    {
        Assert.Equal(0, Run("run", "--log-level", "off"));

        Assert.Equal(1, _runs);
        Assert.Equal(SettingsLoader.Reference.Vm, _ran!.Vm with { Disks = SettingsLoader.Reference.Vm.Disks, Nets = SettingsLoader.Reference.Vm.Nets });
        Assert.Empty(_ran.Vm.Disks);
        Assert.Empty(_ran.Vm.Nets);
        Assert.Equal(string.Empty, _err.ToString());
    }

    [Fact]
    public void Options_should_map_to_settings()
    {
        var kernel = FileWith("vmlinux");
        var initrd = FileWith("initrd.img");
        var disk1 = FileWith("a.img");
        var disk2 = FileWith("b.img");
        var serial = Path.Combine(_dir, "serial.log");
        var trace = Path.Combine(_dir, "trace.json");
        var log = Path.Combine(_dir, "vmm.log");

        var code = Run(
            "run", "--kernel", kernel, "--initrd", initrd, "--cmdline", "console=hvc0 quiet", "--cpus", "3", "--memory", "1G",
            "--serial", "file:" + serial, "--disk", disk1, "--disk", disk2 + ",ro", "--console", "virtio", "--rng", "--stats",
            "--trace", trace, "--trace-format", "jsonl", "--log-level", "warning", "--log-file", log);

        Assert.Equal(0, code);
        var vm = _ran!.Vm;
        Assert.Equal(kernel, vm.Kernel);
        Assert.Equal(initrd, vm.Initrd);
        Assert.Equal("console=hvc0 quiet", vm.Cmdline);
        Assert.Equal(3, vm.Cpus);
        Assert.Equal(1UL << 30, vm.MemoryBytes);
        Assert.Equal(SerialSpec.File(serial), vm.Serial);
        Assert.Equal(new[] { new DiskSettings(disk1, false), new DiskSettings(disk2, true) }, vm.Disks);
        Assert.Equal(ConsoleDevice.Virtio, vm.Console);
        Assert.True(vm.Rng);
        Assert.Equal(new TracingSettings(true, trace, TraceFormat.Jsonl, 65536), _ran.Tracing);
        Assert.Equal(new LoggingSettings(LoggingLevel.Warning, true, log, LogFormat.Text), _ran.Logging);
        Assert.False(File.Exists(serial), "the startup check must not leave a serial file behind");
    }

    [Fact]
    public void Net_options_should_map_to_nics_in_order()
    {
        var pcap = Path.Combine(_dir, "n1.pcap");

        Assert.Equal(0, Run("run", "--net", "tap=tap0,mac=52:54:00:00:00:01", "--net", "switch=lan0,pcap=" + pcap, "--log-level", "off"));

        Assert.Equal(
            [NetSettings.TryParse("tap=tap0,mac=52:54:00:00:00:01", out _)!, new NetSettings(NetBackendKind.Switch, "lan0", Pcap: pcap)],
            _ran!.Vm.Nets);
    }

    [Fact]
    public void Transport_options_should_map_to_the_vm_and_to_each_disk_and_nic()
    {
        var disk1 = FileWith("a.img");
        var disk2 = FileWith("b.img");

        Assert.Equal(0, Run(
            "run", "--transport", "mmio", "--disk", disk1 + ",ro,transport=pci", "--disk", disk2, "--net", "switch=lan0,transport=pci",
            "--log-level", "off"));

        var vm = _ran!.Vm;
        Assert.Equal(VirtioTransportKind.Mmio, vm.Transport);
        Assert.Equal([new DiskSettings(disk1, true) { Transport = VirtioTransportKind.Pci }, new DiskSettings(disk2, false)], vm.Disks);
        Assert.Equal(VirtioTransportKind.Pci, vm.Nets[0].Transport);
    }

    [Fact]
    public void Bad_net_option_should_print_one_line_and_exit_2()
    {
        Assert.Equal(CliApp.ExitBadInput, Run("run", "--net", "tap=tap0,mac=01:02:03:04:05:06"));

        Assert.Contains("is not a unicast address", OneErrorLine());
        Assert.Equal(0, _runs);
    }

    [Fact]
    public void Restore_should_map_to_settings_with_the_clones_disks()
    {
        var snapshot = Directory.CreateDirectory(Path.Combine(_dir, "snap")).FullName;
        var disk = FileWith("clone.img");

        Assert.Equal(0, Run("run", "--restore", snapshot, "--disk", disk, "--log-level", "off"));

        Assert.Equal(snapshot, _ran!.Vm.Restore);
        Assert.Equal([new DiskSettings(disk, false)], _ran.Vm.Disks);
        Assert.False(_ran.Vm.StartPaused);
    }

    [Fact]
    public void Restore_should_not_check_a_kernel_it_does_not_use()
    {
        var snapshot = Directory.CreateDirectory(Path.Combine(_dir, "snap")).FullName;
        var config = FileWith("vm.conf", $"actorvmm.vm.kernel = \"{Path.Combine(_dir, "gone")}\"\nactorvmm.logging.level = off\n");

        Assert.Equal(0, Run("run", "--config", config, "--restore", snapshot));

        Assert.Equal(snapshot, _ran!.Vm.Restore);
    }

    [Fact]
    public void Start_paused_should_be_refused_by_run_which_cannot_resume()
    {
        var config = FileWith("vm.conf", "actorvmm.vm.start-paused = on");

        Assert.Equal(CliApp.ExitBadInput, Run("run", "--config", config));

        Assert.Equal("actorvmm: start-paused: actorvmm run has nothing to resume the VM with (use actorvmm serve)", OneErrorLine());
        Assert.Equal(0, _runs);
    }

    [Theory]
    [InlineData("8,sockets=2,cores=2,threads=2", 8, 2, 1, 2, 2)]
    [InlineData("8,sockets=2", 8, 2, 1, 4, 1)]
    [InlineData("12, dies=2, sockets=2", 12, 2, 2, 3, 1)]
    public void Cpus_with_a_topology_should_set_the_count_and_the_topology(string value, int cpus, int sockets, int dies, int cores, int threads)
    {
        Assert.Equal(0, Run("run", "--log-level", "off", "--cpus", value));

        Assert.Equal(cpus, _ran!.Vm.Cpus);
        Assert.Equal(new CpuTopology(sockets, dies, cores, threads), _ran.Vm.Topology);
    }

    [Fact]
    public void A_bare_cpus_option_should_replace_the_VM_files_topology_with_the_flat_one()
    {
        var config = FileWith("vm.conf", "actorvmm {\n  vm { cpus = 8, topology = \"sockets=2\" }\n  logging.level = off\n}\n");

        Assert.Equal(0, Run("run", "--config", config));
        Assert.Equal(new CpuTopology(2, 1, 4, 1), _ran!.Vm.Topology);

        Assert.Equal(0, Run("run", "--config", config, "--cpus", "6"));
        Assert.Equal(6, _ran!.Vm.Cpus);
        Assert.Null(_ran.Vm.Topology);
        Assert.Equal(CpuTopology.Flat(6), _ran.Vm.CpuTopology);
    }

    [Fact]
    public void Command_line_should_override_the_VM_file_which_overrides_reference_conf()
    {
        var config = FileWith("vm.conf", "actorvmm {\n  vm { cpus = 2, memory = 1G }\n  logging.level = off\n}\n");

        Assert.Equal(0, Run("run", "--config", config, "--cpus", "4"));

        Assert.Equal(4, _ran!.Vm.Cpus);
        Assert.Equal(1UL << 30, _ran.Vm.MemoryBytes);
        Assert.Equal(SettingsLoader.Reference.Vm.Cmdline, _ran.Vm.Cmdline);
        Assert.Equal(LoggingLevel.Off, _ran.Logging.Level);
    }

    [Theory]
    [InlineData("--memory must be a multiple of 4 KiB: 100000000", "run", "--memory", "100000000")]
    [InlineData("--memory must be a size (e.g. 512M, 2G or a number of bytes): lots", "run", "--memory", "lots")]
    [InlineData("--memory must be at least 16M: 1M", "run", "--memory", "1M")]
    [InlineData("--cpus must be an integer from 1 to 254: 0", "run", "--cpus", "0")]
    [InlineData("--cpus must be an integer from 1 to 254: 255", "run", "--cpus", "255")]
    [InlineData("--cpus must be an integer from 1 to 254: many", "run", "--cpus", "many")]
    [InlineData("--cpus must be an integer from 1 to 254: 256", "run", "--cpus", "256,sockets=2")]
    [InlineData("--cpus is not a topology of 8 vCPUs: sockets=3,dies=1,threads=1 do not divide 8 vCPUs", "run", "--cpus", "8,sockets=3")]
    [InlineData("--cpus is not a topology of 8 vCPUs: sockets=1,dies=1,cores=3,threads=1 is 3 vCPUs, not 8", "run", "--cpus", "8,cores=3")]
    [InlineData("--cpus is not a topology of 4 vCPUs: cores must be a whole number 1..254, not '0'", "run", "--cpus", "4,cores=0")]
    [InlineData("--cpus is not a topology of 4 vCPUs: 'banana' is not field=number (fields: sockets, dies, cores, threads)", "run", "--cpus", "4,banana")]
    [InlineData("--cpus is not a topology of 195 vCPUs: sockets=3,dies=1,cores=65,threads=1 needs APIC ids up to 320 (each field takes a power of two of ids): at most 254 fit the xAPIC (255 is broadcast)", "run", "--cpus", "195,sockets=3")]
    [InlineData("--serial must be stdio, file:PATH or none: 'tty'", "run", "--serial", "tty")]
    [InlineData("--serial must name a file after file: (file:PATH)", "run", "--serial", "file:")]
    [InlineData("--console must be serial|virtio: vga", "run", "--console", "vga")]
    [InlineData("--transport must be pci|mmio: usb", "run", "--transport", "usb")]
    [InlineData("--transport cannot be given with --restore: the machine comes from the snapshot (see actorvmm --help)", "run", "--restore", "/snap", "--transport", "mmio")]
    [InlineData("--net entry 0: transport must be pci|mmio: 'isa'", "run", "--net", "switch=lan0,transport=isa")]
    [InlineData("--trace-format must be chrome|jsonl: perfetto", "run", "--trace-format", "perfetto")]
    [InlineData("--log-level must be debug|info|warning|error|off: loud", "run", "--log-level", "loud")]
    [InlineData("Unrecognized command or argument '--cpu'. (see actorvmm --help)", "run", "--cpu", "2")]
    [InlineData("--memory cannot be given with --restore: the machine comes from the snapshot (see actorvmm --help)", "run", "--restore", "/snap", "--memory", "1G")]
    [InlineData("--cmdline cannot be given with --restore: the machine comes from the snapshot (see actorvmm --help)", "run", "--cmdline", "quiet", "--restore", "/snap")]
    [InlineData("Unrecognized command or argument '--paused'. (see actorvmm --help)", "run", "--paused")]
    [InlineData("Unrecognized command or argument 'boot'. (see actorvmm --help)", "boot")]
    [InlineData("Required command was not provided. (see actorvmm --help)")]
    public void Bad_input_should_print_one_line_and_exit_2(string expected, params string[] args)
    {
        Assert.Equal(CliApp.ExitBadInput, Run(args));

        Assert.Equal("actorvmm: " + expected, OneErrorLine());
        Assert.Equal(0, _runs);
    }

    [Fact]
    public void Missing_files_should_print_one_line_and_exit_2()
    {
        var missing = Path.Combine(_dir, "missing");
        var cases = new (string Expected, string[] Args)[]
        {
            ($"kernel not found: {missing}", ["run", "--kernel", missing]),
            ($"initrd not found: {missing}", ["run", "--initrd", missing]),
            ($"kernel is a directory: {_dir}", ["run", "--kernel", _dir]),
            ($"disk not found: {missing}", ["run", "--disk", missing]),
            ($"disk not found: {missing}", ["run", "--disk", missing + ",ro"]),
            ($"config file not found: {missing}", ["run", "--config", missing]),
            ($"snapshot not found: {missing}", ["run", "--restore", missing]),
            ($"snapshot is a file, not a directory: {FileWith("snap.file")}", ["run", "--restore", FileWith("snap.file")]),
            ($"serial output file's directory does not exist: {Path.Combine(missing, "s.log")}", ["run", "--serial", "file:" + Path.Combine(missing, "s.log")]),
            ($"trace file's directory does not exist: {Path.Combine(missing, "t.json")}", ["run", "--trace", Path.Combine(missing, "t.json")]),
            ($"log file's directory does not exist: {Path.Combine(missing, "l.log")}", ["run", "--log-file", Path.Combine(missing, "l.log")]),
            ($"pcap file's directory does not exist: {Path.Combine(missing, "n.pcap")}", ["run", "--net", "switch=lan0,pcap=" + Path.Combine(missing, "n.pcap")]),
        };

        foreach (var (expected, args) in cases)
        {
            _err.GetStringBuilder().Clear();
            Assert.Equal(CliApp.ExitBadInput, Run(args));
            Assert.Equal("actorvmm: " + expected, OneErrorLine());
        }

        Assert.Equal(0, _runs);
    }

    [Fact]
    public void Read_write_disk_that_is_not_writable_should_be_rejected_but_allowed_read_only()
    {
        var disk = FileWith("ro.img");
        if (OperatingSystem.IsLinux())
        {
            File.SetUnixFileMode(disk, UnixFileMode.UserRead);
        }

        var probe = CanOpenForWrite(disk);

        var code = Run("run", "--disk", disk, "--log-level", "off");

        if (probe)
        {
            // Running as root: permission bits do not stop writes, so the disk is rightly accepted.
            Assert.Equal(0, code);
        }
        else
        {
            Assert.Equal(CliApp.ExitBadInput, code);
            Assert.StartsWith($"actorvmm: disk not writable: {disk}", OneErrorLine());
            Assert.Equal(0, Run("run", "--disk", disk + ",ro", "--log-level", "off"));
        }
    }

    [Fact]
    public void Bad_VM_file_should_name_the_file_and_key()
    {
        var config = FileWith("bad.conf", "actorvmm.vm.memory = lots");

        Assert.Equal(CliApp.ExitBadInput, Run("run", "--config", config));

        Assert.Equal($"actorvmm: {config}: actorvmm.vm.memory must be a size (e.g. 512M, 2G or a number of bytes): lots", OneErrorLine());
    }

    [Fact]
    public void Unknown_key_in_VM_file_should_exit_2()
    {
        var config = FileWith("typo.conf", "actorvmm.vm.cpu = 2");

        Assert.Equal(CliApp.ExitBadInput, Run("run", "--config", config));

        Assert.Equal($"actorvmm: {config}: unknown key actorvmm.vm.cpu (did you mean actorvmm.vm.cpus?)", OneErrorLine());
    }

    [Fact]
    public void Run_without_a_registered_runner_should_fail_with_one_line()
    {
        var code = CliApp.Run(["run", "--log-level", "off"], runner: null, _out, _err);

        Assert.Equal(CliApp.ExitFailure, code);
        Assert.Contains("no VM runner", OneErrorLine());
    }

    [Fact]
    public void Runner_exit_code_should_be_the_process_exit_code()
    {
        var code = CliApp.Run(["run", "--log-level", "off"], (_, _) => Task.FromResult(6), _out, _err);

        Assert.Equal(6, code);
    }

    [Fact]
    public void Runner_exception_should_be_one_line_without_a_stack_trace()
    {
        var code = CliApp.Run(["run", "--log-level", "off"], (_, _) => throw new InvalidOperationException("KVM_CREATE_VM failed: No such device\n  at Foo.Bar()"), _out, _err);

        Assert.Equal(CliApp.ExitFailure, code);
        Assert.Equal("actorvmm: InvalidOperationException: KVM_CREATE_VM failed: No such device", OneErrorLine());
    }

    [Fact]
    public void Runner_console_error_should_exit_2()
    {
        var code = CliApp.Run(["run", "--log-level", "off"], (_, _) => throw new ConsoleException("cannot open serial output file /x: denied"), _out, _err);

        Assert.Equal(CliApp.ExitBadInput, code);
        Assert.Equal("actorvmm: cannot open serial output file /x: denied", OneErrorLine());
    }

    [Fact]
    public void Runner_should_get_a_cancellable_token_and_the_configured_logger()
    {
        Serilog.ILogger? seen = null;
        var cancellable = false;
        var code = CliApp.Run(
            ["run", "--log-level", "info"],
            (_, ct) =>
            {
                cancellable = ct.CanBeCanceled;
                seen = Serilog.Log.Logger;
                Serilog.Log.Information("hello from the runner");
                return Task.FromResult(0);
            },
            _out,
            _err);

        Assert.Equal(0, code);
        Assert.True(cancellable);
        Assert.NotSame(Serilog.Log.Logger, seen);
        Assert.Contains("hello from the runner", _err.ToString());
    }

    [Fact]
    public void Version_should_print_to_stdout_and_exit_0()
    {
        Assert.Equal(0, Run("--version"));

        Assert.NotEmpty(_out.ToString().Trim());
        Assert.Equal(string.Empty, _err.ToString());
    }

    [Fact]
    public void Huge_page_and_pinning_options_should_map_to_settings()
    {
        var last = ThreadScheduling.AllowedCpus().Cpus[^1];

        Assert.Equal(0, Run("run", "--log-level", "off", "--memory", "128M", "--hugepages", "2M", "--pin-vcpus", $"{last},0", "--pin-io", "0"));

        Assert.Equal(HugePages.Size2M, _ran!.Vm.HugePages);
        Assert.Equal(last == 0 ? null : CpuSet.Of(last, 0), last == 0 ? null : _ran.Vm.PinVcpus);
        Assert.Equal(CpuSet.Of(0), _ran.Vm.PinIo);
    }

    [Theory]
    [InlineData("--hugepages must be 2M, 1G or empty (off): 4K", "run", "--hugepages", "4K")]
    [InlineData("--hugepages 1G needs a memory size that is a multiple of 1G, not 1536M: 1G", "run", "--hugepages", "1G", "--memory", "1536M")]
    [InlineData("--hugepages 2M needs a memory size that is a multiple of 2M, not 129M: 2M", "run", "--hugepages", "2M", "--memory", "129M")]
    [InlineData("--pin-vcpus must be a CPU list such as 0-3 or 2,4,6 (range '3-1' runs backwards): 3-1", "run", "--pin-vcpus", "3-1")]
    [InlineData("--pin-vcpus must be a CPU list such as 0-3 or 2,4,6 ('x' is not a CPU number or range): 0,x", "run", "--pin-vcpus", "0,x")]
    [InlineData("--pin-io must be a CPU list such as 0-3 or 2,4,6 (CPU 1024 is out of range: CPUs are numbered 0 to 1023): 0-1024", "run", "--pin-io", "0-1024")]
    [InlineData("--pin-io must be a CPU list such as 0-3 or 2,4,6 (CPU 0 is listed twice): 0,0", "run", "--pin-io", "0,0")]
    [InlineData("--hugepages cannot be given with --restore: the machine comes from the snapshot (see actorvmm --help)", "run", "--restore", "/snap", "--hugepages", "2M")]
    public void Bad_huge_page_or_pinning_input_should_print_one_line_and_exit_2(string expected, params string[] args)
    {
        Assert.Equal(CliApp.ExitBadInput, Run(args));

        Assert.Equal("actorvmm: " + expected, OneErrorLine());
        Assert.Equal(0, _runs);
    }

    [Fact]
    public void Pinning_to_a_cpu_this_process_may_not_run_on_should_print_one_line_and_exit_2()
    {
        // On a 2-CPU host: CPU 5 (the first one not allowed here, in general).
        var allowed = ThreadScheduling.AllowedCpus();
        var outside = Enumerable.Range(5, CpuSet.MaxCpus - 5).First(c => !allowed.Contains(c));

        Assert.Equal(CliApp.ExitBadInput, Run("run", "--pin-vcpus", $"0,{outside}"));
        Assert.Equal($"actorvmm: --pin-vcpus must name CPUs this process may run on ({allowed}), not {outside}: 0,{outside}", OneErrorLine());

        _err.GetStringBuilder().Clear();
        Assert.Equal(CliApp.ExitBadInput, Run("run", "--pin-io", $"{outside}"));
        Assert.Equal($"actorvmm: --pin-io must name CPUs this process may run on ({allowed}), not {outside}: {outside}", OneErrorLine());
        Assert.Equal(0, _runs);
    }

    [Fact]
    public void Help_should_list_the_run_options()
    {
        Assert.Equal(0, Run("run", "--help"));

        var help = _out.ToString();
        foreach (var option in new[] { "--kernel", "--initrd", "--cmdline", "--cpus", "--memory", "--config", "--serial", "--disk", "--console", "--rng", "--restore", "--stats", "--trace", "--trace-format", "--log-level", "--log-file", "--hugepages", "--pin-vcpus", "--pin-io" })
        {
            Assert.Contains(option, help);
        }

        Assert.Equal(0, _runs);
    }

    private static bool CanOpenForWrite(string path)
    {
        try
        {
            using var _ = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
            return true;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }
}
