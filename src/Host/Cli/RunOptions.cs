using System.CommandLine;
using ActorVmm.Actors.Settings;
using ActorVmm.Host.Settings;

namespace ActorVmm.Host.Cli;

/// <summary>The options of <c>actorvmm run</c> and the settings keys they override.</summary>
internal sealed class RunOptions
{
    private readonly Option<string> _kernel = new("--kernel") { Description = "Kernel image (vmlinux or bzImage); default: the embedded default guest", HelpName = "FILE" };
    private readonly Option<string> _initrd = new("--initrd") { Description = "Initramfs/initrd image", HelpName = "FILE" };
    private readonly Option<string> _cmdline = new("--cmdline") { Description = "Kernel command line", HelpName = "ARGS" };
    private readonly Option<string> _cpus = new("--cpus")
    {
        Description = "Number of vCPUs (1..254) and how they are arranged (threads per core, cores per die; omitted: 1 socket, 1 die, 1 thread, "
            + "cores = the rest). Beyond the MP table (40) only ACPI describes them: an acpi=off guest sees one CPU",
        HelpName = "N[,sockets=S,dies=D,cores=C,threads=T]",
    };
    private readonly Option<string> _memory = new("--memory", "-m") { Description = "Guest RAM, e.g. 512M, 2G (>= 16M, multiple of 4K)", HelpName = "SIZE" };
    private readonly Option<string> _config = new("--config", "-c") { Description = "VM file (HOCON) layered over reference.conf; options override it", HelpName = "FILE" };
    private readonly Option<string> _serial = new("--serial") { Description = "Console host end: stdio, file:PATH or none", HelpName = "SPEC" };
    private readonly Option<string[]> _disk = new("--disk") { Description = "virtio-blk disk image; repeat for more; ,ro for read-only", HelpName = "PATH[,ro]" };
    private readonly Option<string> _console = new("--console") { Description = "Console device: serial (ttyS0) or virtio (hvc0)", HelpName = "serial|virtio" };
    private readonly Option<bool> _rng = new("--rng") { Description = "Add a virtio-rng device" };
    private readonly Option<string> _transport = new("--transport") { Description = "How virtio devices reach the guest: pci (virtio-pci) or mmio (virtio-mmio, announced in ACPI); a disk or NIC may name its own (,transport=)", HelpName = "pci|mmio" };
    private readonly Option<bool> _stats = new("--stats") { Description = "Print VM-exit and device statistics at exit" };
    private readonly Option<string> _trace = new("--trace") { Description = "Write a VM-exit trace to FILE", HelpName = "FILE" };
    private readonly Option<string> _traceFormat = new("--trace-format") { Description = "Trace format: chrome or jsonl", HelpName = "chrome|jsonl" };
    private readonly Option<string> _logLevel = new("--log-level") { Description = "VMM log level: debug, info, warning, error, off", HelpName = "LEVEL" };
    private readonly Option<string> _logFile = new("--log-file") { Description = "Also append VMM logs to FILE", HelpName = "FILE" };
    private readonly Option<string[]> _net = new("--net") { Description = "virtio-net NIC on an existing TAP or an in-process switch; repeat for more", HelpName = "tap=NAME|switch=NAME[,mac=M][,mtu=N][,pcap=FILE]" };
    private readonly Option<string[]> _fault = new("--fault") { Description = "Inject a device fault, e.g. disk0:crash,every=100; repeat for more", HelpName = "DEVICE:KIND[,every=N|,p=P,seed=S|,after=DURATION|,offset=O]" };
    private readonly Option<string> _restore = new("--restore") { Description = "Restore the snapshot in DIR instead of booting (its machine; --disk replaces its disks one for one)", HelpName = "DIR" };
    private readonly Option<string> _hugepages = new("--hugepages") { Description = "Back guest RAM with huge pages from the host's pool (echo N > /proc/sys/vm/nr_hugepages); refused at start if the pool is short. A snapshot records it: its restore reads the memory file into huge pages at start", HelpName = "2M|1G" };
    private readonly Option<string> _pinVcpus = new("--pin-vcpus") { Description = "Pin vCPU i to the i-th host CPU of LIST (modulo its length), e.g. 0-3 or 2,4,6", HelpName = "LIST" };
    private readonly Option<string> _pinIo = new("--pin-io") { Description = "Pin the VM's other threads (virtqueue workers, IRQ resamplers, TAP readers) to the host CPUs of LIST", HelpName = "LIST" };
    private readonly Option<bool> _paused = new("--paused") { Description = "Keep the vCPUs paused once started (vm resume lets them run), e.g. a restored VM" };

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { _kernel, _initrd, _cmdline, _cpus, _memory, _hugepages, _pinVcpus, _pinIo, _config, _serial, _disk, _net, _console, _rng, _transport, _restore, _stats, _trace, _traceFormat, _logLevel, _logFile, _fault })
        {
            command.Options.Add(option);
        }

        command.Validators.Add(RefuseMachineOptionsWithRestore);
    }

    /// <summary>
    /// The options that describe one VM (machine, disks, console, faults, <c>--config</c>), for <c>actorvmm vm
    /// create</c>: the same definitions as <c>run</c>, without the process-wide ones (stats, trace, logging).
    /// </summary>
    public void AddVmOptionsTo(Command command)
    {
        foreach (var option in new Option[] { _kernel, _initrd, _cmdline, _cpus, _memory, _hugepages, _pinVcpus, _pinIo, _config, _serial, _disk, _net, _console, _rng, _transport, _restore, _paused, _fault })
        {
            command.Options.Add(option);
        }

        command.Validators.Add(RefuseMachineOptionsWithRestore);
    }

    /// <summary>The options of <c>actorvmm serve</c>: the VM defaults file and logging.</summary>
    public void AddServeOptionsTo(Command command)
    {
        foreach (var option in new Option[] { _config, _logLevel, _logFile })
        {
            command.Options.Add(option);
        }
    }

    public string? ConfigFile(ParseResult result) => result.GetValue(_config);

    /// <summary>
    /// A restored VM's machine is the snapshot's: an option that would describe another one is refused rather than
    /// ignored (host-side options, <c>--disk</c> among them, stay allowed).
    /// </summary>
    private void RefuseMachineOptionsWithRestore(System.CommandLine.Parsing.CommandResult result)
    {
        if (result.GetResult(_restore) is null)
        {
            return;
        }

        foreach (var option in new Option[] { _kernel, _initrd, _cmdline, _cpus, _memory, _hugepages, _console, _rng, _transport })
        {
            if (result.GetResult(option) is not null)
            {
                result.AddError($"{option.Name} cannot be given with --restore: the machine comes from the snapshot");
                return;
            }
        }
    }

    /// <summary>The settings the given options override, in command-line precedence.</summary>
    public IReadOnlyList<SettingOverride> ToOverrides(ParseResult result)
    {
        var overrides = new List<SettingOverride>();
        void AddString(Option<string> option, string key)
        {
            if (result.GetResult(option) is not null && result.GetValue(option) is { } value)
            {
                overrides.Add(SettingOverride.String(key, value, option.Name));
            }
        }

        AddString(_kernel, "actorvmm.vm.kernel");
        AddString(_initrd, "actorvmm.vm.initrd");
        AddString(_cmdline, "actorvmm.vm.cmdline");
        if (result.GetResult(_cpus) is not null && result.GetValue(_cpus) is { } cpus)
        {
            // "N,sockets=2,...": N is actorvmm.vm.cpus, the rest the topology; a bare N is the flat topology.
            var comma = cpus.IndexOf(',', StringComparison.Ordinal);
            overrides.Add(SettingOverride.String("actorvmm.vm.cpus", comma < 0 ? cpus : cpus[..comma].Trim(), _cpus.Name));
            overrides.Add(SettingOverride.String("actorvmm.vm.topology", comma < 0 ? string.Empty : cpus[(comma + 1)..], _cpus.Name));
        }

        AddString(_memory, "actorvmm.vm.memory");
        AddString(_hugepages, "actorvmm.vm.hugepages");
        AddString(_pinVcpus, "actorvmm.vm.pin-vcpus");
        AddString(_pinIo, "actorvmm.vm.pin-io");
        AddString(_serial, "actorvmm.vm.serial");
        AddString(_console, "actorvmm.vm.console");
        AddString(_transport, "actorvmm.vm.transport");
        AddString(_restore, "actorvmm.vm.restore");
        AddString(_trace, "actorvmm.tracing.trace-file");
        AddString(_traceFormat, "actorvmm.tracing.trace-format");
        AddString(_logLevel, "actorvmm.logging.level");
        AddString(_logFile, "actorvmm.logging.file");

        if (result.GetValue(_disk) is { Length: > 0 } disks)
        {
            var list = "[" + string.Join(", ", disks.Select(SettingOverride.Quote)) + "]";
            overrides.Add(new SettingOverride("actorvmm.vm.disks", list, _disk.Name));
        }

        if (result.GetValue(_net) is { Length: > 0 } nets)
        {
            var list = "[" + string.Join(", ", nets.Select(SettingOverride.Quote)) + "]";
            overrides.Add(new SettingOverride("actorvmm.vm.nets", list, _net.Name));
        }

        if (result.GetValue(_fault) is { Length: > 0 } faults)
        {
            var list = "[" + string.Join(", ", faults.Select(SettingOverride.Quote)) + "]";
            overrides.Add(new SettingOverride("actorvmm.faults", list, _fault.Name));
        }

        if (result.GetValue(_rng))
        {
            overrides.Add(SettingOverride.Boolean("actorvmm.vm.rng", true, _rng.Name));
        }

        if (result.GetValue(_paused))
        {
            overrides.Add(SettingOverride.Boolean("actorvmm.vm.start-paused", true, _paused.Name));
        }

        if (result.GetValue(_stats))
        {
            overrides.Add(SettingOverride.Boolean("actorvmm.tracing.stats", true, _stats.Name));
        }

        return overrides;
    }
}
