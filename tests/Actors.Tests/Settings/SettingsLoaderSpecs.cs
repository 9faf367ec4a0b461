using ActorVmm.Host.GuestConsole;
using ActorVmm.Actors.Settings;
using ActorVmm.Host.Settings;
using Xunit;

namespace ActorVmm.Actors.Tests.Settings;

public class SettingsLoaderSpecs
{
    private static SettingsException ParseFails(string hocon, string source = "vm.conf") =>
        Assert.Throws<SettingsException>(() => SettingsLoader.Parse(hocon, source));

    [Fact]
    public void Reference_conf_defaults_should_be_pinned()
    {
        var s = SettingsLoader.Load();

        Assert.Equal(1, s.Vm.Cpus);
        Assert.Equal(512UL * 1024 * 1024, s.Vm.MemoryBytes);
        Assert.Null(s.Vm.Kernel);
        Assert.Null(s.Vm.Initrd);
        Assert.Equal("console=ttyS0 reboot=k panic=-1 i8042.noaux i8042.nomux i8042.dumbkbd", s.Vm.Cmdline);
        Assert.Equal(SerialSpec.Stdio, s.Vm.Serial);
        Assert.Equal(ConsoleDevice.Serial, s.Vm.Console);
        Assert.Equal(SerialSpec.None, s.Vm.Com2);
        Assert.Equal(SerialSpec.None, s.Vm.Com3);
        Assert.Equal(SerialSpec.None, s.Vm.Com4);
        Assert.Empty(s.Vm.Disks);
        Assert.False(s.Vm.Rng);
        Assert.Equal(VirtioTransportKind.Pci, s.Vm.Transport);

        Assert.Equal(DeviceSettings.Default, s.Devices);
        Assert.Equal(TimeSpan.FromSeconds(1), s.Devices.ReadTimeout);

        Assert.Equal(10, s.Supervision.MaxRestarts);
        Assert.Equal(TimeSpan.FromMinutes(1), s.Supervision.Within);
        Assert.Equal(RestartStateSource.Saved, s.Supervision.RestartState);
        Assert.Equal(BudgetExceededPolicy.StopVm, s.Supervision.OnBudgetExceeded);
        Assert.Equal(new Dictionary<string, SupervisionAction> { ["default"] = SupervisionAction.Restart }, s.Supervision.Decider);

        Assert.Equal(LoggingSettings.Default, s.Logging);
        Assert.Equal(LoggingLevel.Info, s.Logging.Level);
        Assert.True(s.Logging.Console);
        Assert.Null(s.Logging.File);
        Assert.Equal(LogFormat.Text, s.Logging.Format);

        Assert.Equal(TracingSettings.Default, s.Tracing);
        Assert.False(s.Tracing.Stats);
        Assert.Null(s.Tracing.TraceFile);
        Assert.Equal(TraceFormat.Chrome, s.Tracing.TraceFormat);
        Assert.Equal(65536, s.Tracing.Buffer);
    }

    [Fact]
    public void Reference_conf_should_match_the_code_defaults_of_shared_records()
    {
        var s = ActorVmmSettings.Default;

        Assert.Equal(SupervisionSettings.Default.MaxRestarts, s.Supervision.MaxRestarts);
        Assert.Equal(SupervisionSettings.Default.Within, s.Supervision.Within);
        Assert.Equal(SupervisionSettings.Default.RestartState, s.Supervision.RestartState);
        Assert.Equal(SupervisionSettings.Default.OnBudgetExceeded, s.Supervision.OnBudgetExceeded);
        Assert.Equal(SupervisionSettings.Default.Decider, s.Supervision.Decider);
    }

    [Fact]
    public void Every_reference_key_should_carry_a_comment()
    {
        var lines = SettingsLoader.ReferenceText().Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith('#') || line == "}" || !line.Contains('='))
            {
                continue;
            }

            var previous = lines[..i].Select(l => l.Trim()).Last(l => l.Length > 0);
            Assert.True(previous.StartsWith('#') || previous.EndsWith('{'), $"reference.conf line {i + 1} has no comment above it: {line}");
        }
    }

    [Fact]
    public void VM_file_should_override_reference_values()
    {
        var s = SettingsLoader.Parse(
            """
            actorvmm {
              vm {
                cpus = 4
                memory = 2G
                kernel = "/boot/vmlinuz"
                initrd = /boot/initrd.img
                cmdline = "console=hvc0"
                serial = "file:/tmp/serial.log"
                console = virtio
                com2 = stdio
                disks = [ { path = "/a.img", read-only = true }, { path = "/b.img" }, "/c.img,ro" ]
                rng = on
              }
              devices.read-timeout = 250ms
              supervision {
                max-restarts = 3
                within = 30s
                restart-state = power-on
                on-budget-exceeded = stop-device
                decider { IOException = stop, "System.InvalidOperationException" = escalate }
              }
              logging { level = debug, console = off, file = "/tmp/vmm.log", format = json }
              tracing { stats = on, trace-file = "/tmp/t.json", trace-format = jsonl, buffer = 1024 }
            }
            """,
            "vm.conf");

        Assert.Equal(4, s.Vm.Cpus);
        Assert.Equal(2UL << 30, s.Vm.MemoryBytes);
        Assert.Equal("/boot/vmlinuz", s.Vm.Kernel);
        Assert.Equal("/boot/initrd.img", s.Vm.Initrd);
        Assert.Equal("console=hvc0", s.Vm.Cmdline);
        Assert.Equal(SerialSpec.File("/tmp/serial.log"), s.Vm.Serial);
        Assert.Equal(ConsoleDevice.Virtio, s.Vm.Console);
        Assert.Equal(SerialSpec.Stdio, s.Vm.Com2);
        Assert.Equal(
            new[] { new DiskSettings("/a.img", true), new DiskSettings("/b.img", false), new DiskSettings("/c.img", true) },
            s.Vm.Disks);
        Assert.True(s.Vm.Rng);
        Assert.Equal(TimeSpan.FromMilliseconds(250), s.Devices.ReadTimeout);
        Assert.Equal(3, s.Supervision.MaxRestarts);
        Assert.Equal(TimeSpan.FromSeconds(30), s.Supervision.Within);
        Assert.Equal(RestartStateSource.PowerOn, s.Supervision.RestartState);
        Assert.Equal(BudgetExceededPolicy.StopDevice, s.Supervision.OnBudgetExceeded);
        Assert.Equal(SupervisionAction.Restart, s.Supervision.Decider["default"]);
        Assert.Equal(SupervisionAction.Stop, s.Supervision.Decider["IOException"]);
        Assert.Equal(SupervisionAction.Escalate, s.Supervision.Decider["System.InvalidOperationException"]);
        Assert.Equal(new LoggingSettings(LoggingLevel.Debug, false, "/tmp/vmm.log", LogFormat.Json), s.Logging);
        Assert.Equal(new TracingSettings(true, "/tmp/t.json", TraceFormat.Jsonl, 1024), s.Tracing);
    }

    [Fact]
    public void Latency_sampling_should_default_to_auto_and_take_a_number()
    {
        Assert.Null(SettingsLoader.Parse("actorvmm.vm.cpus = 1", "vm.conf").Tracing.LatencySample);
        Assert.Equal(1, SettingsLoader.Parse("actorvmm.tracing.latency-sample = 1", "vm.conf").Tracing.LatencySample);
        Assert.Equal(64, SettingsLoader.Parse("actorvmm.tracing.latency-sample = 64", "vm.conf").Tracing.LatencySample);
        Assert.Null(SettingsLoader.Parse("actorvmm.tracing.latency-sample = AUTO", "vm.conf").Tracing.LatencySample);
    }

    [Fact]
    public void Partial_VM_file_should_keep_reference_values_for_the_rest()
    {
        var s = SettingsLoader.Parse("actorvmm.vm.cpus = 2", "vm.conf");

        Assert.Equal(2, s.Vm.Cpus);
        Assert.Equal(512UL << 20, s.Vm.MemoryBytes);
        Assert.Equal(SettingsLoader.Reference.Logging, s.Logging);
    }

    [Fact]
    public void Overrides_should_win_over_the_VM_file_and_later_overrides_over_earlier_ones()
    {
        var s = SettingsLoader.Parse(
            "actorvmm.vm { cpus = 2, memory = 1G }",
            "vm.conf",
            [
                SettingOverride.String("actorvmm.vm.cpus", "3", "--cpus"),
                SettingOverride.String("actorvmm.vm.cpus", "5", "--cpus"),
            ]);

        Assert.Equal(5, s.Vm.Cpus);
        Assert.Equal(1UL << 30, s.Vm.MemoryBytes);
    }

    [Fact]
    public void Quoted_override_strings_should_not_be_read_as_HOCON()
    {
        var s = SettingsLoader.Parse(
            string.Empty,
            "vm.conf",
            [SettingOverride.String("actorvmm.vm.cmdline", "a \"b\" \\c ${x} d=1\nactorvmm.vm.cpus = 9", "--cmdline")]);

        Assert.Equal("a \"b\" \\c ${x} d=1\nactorvmm.vm.cpus = 9", s.Vm.Cmdline);
        Assert.Equal(1, s.Vm.Cpus);
    }

    [Theory]
    [InlineData("actorvmm.vm.cpu = 2", "actorvmm.vm.cpu", "did you mean actorvmm.vm.cpus?")]
    [InlineData("actorvmm { vm { memroy = 1G } }", "actorvmm.vm.memroy", "did you mean actorvmm.vm.memory?")]
    [InlineData("actorvmm.devices.write-timeout = 1s", "actorvmm.devices.write-timeout", "unknown key")]
    [InlineData("actorvmm.bogus { x = 1 }", "actorvmm.bogus", "unknown key")]
    [InlineData("akka.loglevel = DEBUG", "akka", "settings live under actorvmm")]
    [InlineData("actorvmm.logging.colour = on", "actorvmm.logging.colour", "unknown key")]
    public void Unknown_keys_should_fail_naming_the_key_and_the_file(string hocon, string key, string hint)
    {
        var e = ParseFails(hocon);

        Assert.Equal(key, e.Key);
        Assert.Equal("vm.conf", e.Source);
        Assert.StartsWith("vm.conf: unknown key " + key, e.Message);
        Assert.Contains(hint, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Theory]
    [InlineData("actorvmm.vm.memory = lots", "actorvmm.vm.memory", "must be a size")]
    [InlineData("actorvmm.vm.memory = \"12 parsecs\"", "actorvmm.vm.memory", "must be a size")]
    [InlineData("actorvmm.vm.memory = 100000000", "actorvmm.vm.memory", "must be a multiple of 4 KiB: 100000000")]
    [InlineData("actorvmm.vm.memory = 8M", "actorvmm.vm.memory", "must be at least 16M")]
    [InlineData("actorvmm.vm.memory = 2T", "actorvmm.vm.memory", "must be at most 1T")]
    [InlineData("actorvmm.vm.memory = 99999999999999999999G", "actorvmm.vm.memory", "must be a size")]
    [InlineData("actorvmm.vm.cpus = -1", "actorvmm.vm.cpus", "must be an integer from 1 to 254: -1")]
    [InlineData("actorvmm.vm.cpus = 0", "actorvmm.vm.cpus", "must be an integer from 1 to 254")]
    [InlineData("actorvmm.vm.cpus = 255", "actorvmm.vm.cpus", "must be an integer from 1 to 254")]
    [InlineData("actorvmm.vm.cpus = two", "actorvmm.vm.cpus", "must be an integer")]
    [InlineData("actorvmm.tracing.latency-sample = 0", "actorvmm.tracing.latency-sample", "must be an integer from 1 to 65536: 0")]
    [InlineData("actorvmm.tracing.latency-sample = sometimes", "actorvmm.tracing.latency-sample", "must be an integer from 1 to 65536")]
    [InlineData("actorvmm.vm.cpus = 1.5", "actorvmm.vm.cpus", "must be an integer")]
    [InlineData("actorvmm.vm { cpus = 8, topology = \"sockets=3\" }", "actorvmm.vm.topology", "is not a topology of 8 vCPUs: sockets=3,dies=1,threads=1 do not divide 8 vCPUs")]
    [InlineData("actorvmm.vm { cpus = 4, topology = \"threads=two\" }", "actorvmm.vm.topology", "threads must be a whole number 1..254, not 'two'")]
    [InlineData("actorvmm.vm { cpus = 250, topology = \"sockets=2,threads=5\" }", "actorvmm.vm.topology", "needs APIC ids up to 452")]
    [InlineData("actorvmm.devices.read-timeout = banana", "actorvmm.devices.read-timeout", "must be a positive duration")]
    [InlineData("actorvmm.devices.read-timeout = 0s", "actorvmm.devices.read-timeout", "must be a positive duration")]
    [InlineData("actorvmm.supervision.within = 5 fortnights", "actorvmm.supervision.within", "must be a positive duration")]
    [InlineData("actorvmm.supervision.max-restarts = -3", "actorvmm.supervision.max-restarts", "must be an integer >= 0")]
    [InlineData("actorvmm.supervision.restart-state = later", "actorvmm.supervision.restart-state", "must be saved|power-on")]
    [InlineData("actorvmm.supervision.on-budget-exceeded = panic", "actorvmm.supervision.on-budget-exceeded", "must be stop-device|stop-vm")]
    [InlineData("actorvmm.supervision.decider.IOException = retry", "actorvmm.supervision.decider.IOException", "must be restart|resume|stop|escalate")]
    [InlineData("actorvmm.vm.rng = maybe", "actorvmm.vm.rng", "must be on or off")]
    [InlineData("actorvmm.vm.serial = tty", "actorvmm.vm.serial", "must be stdio, file:PATH or none")]
    [InlineData("actorvmm.vm.serial = \"file:\"", "actorvmm.vm.serial", "must name a file")]
    [InlineData("actorvmm.vm.com3 = stdio", "actorvmm.vm.com3", "cannot be stdio: actorvmm.vm.serial already uses stdio")]
    [InlineData("actorvmm.vm.console = vga", "actorvmm.vm.console", "must be serial|virtio")]
    [InlineData("actorvmm.vm.console = \"serial,virtio\"", "actorvmm.vm.console", "must be serial|virtio")]
    [InlineData("actorvmm.vm.console = 1", "actorvmm.vm.console", "must be serial|virtio")]
    [InlineData("actorvmm.vm.disks = \"/a.img\"", "actorvmm.vm.disks", "must be a list")]
    [InlineData("actorvmm.vm.disks = [ { read-only = true } ]", "actorvmm.vm.disks[0]", "has no path")]
    [InlineData("actorvmm.vm.disks = [ { path = \"/a\", writable = true } ]", "actorvmm.vm.disks[0]", "unknown key writable")]
    [InlineData("actorvmm.vm.disks = [ { path = \"/a\", read-only = sometimes } ]", "actorvmm.vm.disks[0]", "read-only must be on or off")]
    [InlineData("actorvmm.vm.disks = [ \",ro\" ]", "actorvmm.vm.disks[0]", "must be PATH")]
    [InlineData("actorvmm.vm = 3", "actorvmm.vm", "must be an object")]
    [InlineData("actorvmm.vm.cpus { x = 1 }", "actorvmm.vm.cpus", "must be a value, not an object")]
    [InlineData("actorvmm.vm.cmdline = [a, b]", "actorvmm.vm.cmdline", "not a list")]
    [InlineData("actorvmm.logging.level = loud", "actorvmm.logging.level", "must be debug|info|warning|error|off")]
    [InlineData("actorvmm.logging.format = xml", "actorvmm.logging.format", "must be text|json")]
    [InlineData("actorvmm.tracing.trace-format = perfetto", "actorvmm.tracing.trace-format", "must be chrome|jsonl")]
    [InlineData("actorvmm.tracing.buffer = 3000", "actorvmm.tracing.buffer", "must be a power of two: 3000")]
    [InlineData("actorvmm.tracing.buffer = 16", "actorvmm.tracing.buffer", "must be an integer from 1024")]
    public void Mistyped_values_should_fail_naming_the_key_and_the_file(string hocon, string key, string detail)
    {
        var e = ParseFails(hocon);

        Assert.Equal(key, e.Key);
        Assert.Equal("vm.conf", e.Source);
        Assert.StartsWith($"vm.conf: {key} ", e.Message);
        Assert.Contains(detail, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Bad_override_should_name_the_option_not_the_file()
    {
        var e = Assert.Throws<SettingsException>(() => SettingsLoader.Parse(
            "actorvmm.vm.memory = 1G",
            "vm.conf",
            [SettingOverride.String("actorvmm.vm.memory", "100000000", "--memory")]));

        Assert.Equal("--memory must be a multiple of 4 KiB: 100000000", e.Message);
        Assert.Equal("--memory", e.Source);
    }

    [Fact]
    public void Bad_value_in_the_file_should_be_reported_even_when_an_override_fixes_another_key()
    {
        var e = Assert.Throws<SettingsException>(() => SettingsLoader.Parse(
            "actorvmm.vm { memory = lots, cpus = 2 }",
            "vm.conf",
            [SettingOverride.String("actorvmm.vm.cpus", "3", "--cpus")]));

        Assert.StartsWith("vm.conf: actorvmm.vm.memory", e.Message);
    }

    [Theory]
    [InlineData("512M", 512UL << 20)]
    [InlineData("2G", 2UL << 30)]
    [InlineData("16777216", 16UL << 20)]
    [InlineData("16384K", 16UL << 20)]
    [InlineData("1GiB", 1UL << 30)]
    [InlineData("128MiB", 128UL << 20)]
    [InlineData("512000000", 512_000_000UL)]
    [InlineData("\"1g\"", 1UL << 30)]
    public void Memory_should_accept_sizes_with_units_and_plain_bytes(string value, ulong expected)
    {
        Assert.Equal(expected, SettingsLoader.Parse($"actorvmm.vm.memory = {value}", "vm.conf").Vm.MemoryBytes);
    }

    [Fact]
    public void Missing_config_file_should_fail_with_its_name()
    {
        var path = Path.Combine(Path.GetTempPath(), "actorvmm-missing-" + Guid.NewGuid() + ".conf");

        var e = Assert.Throws<SettingsException>(() => SettingsLoader.Load(path));

        Assert.Equal($"config file not found: {path}", e.Message);
    }

    [Fact]
    public void Config_file_should_be_read_from_disk()
    {
        var path = Path.Combine(Path.GetTempPath(), "actorvmm-" + Guid.NewGuid() + ".conf");
        File.WriteAllText(path, "actorvmm.vm.cpus = 7\n");
        try
        {
            Assert.Equal(7, SettingsLoader.Load(path).Vm.Cpus);
            var e = Assert.Throws<SettingsException>(() => SettingsLoader.Load(path, [SettingOverride.String("actorvmm.vm.cpu", "1", "--x")]));
            Assert.Contains("unknown key actorvmm.vm.cpu", e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Unresolved_substitution_should_be_a_settings_error()
    {
        var e = ParseFails("actorvmm.vm.kernel = ${NO_SUCH_THING_IN_ACTORVMM}");

        Assert.StartsWith("vm.conf: not valid HOCON", e.Message);
    }

    [Fact]
    public void Example_VM_files_should_load()
    {
        var dir = FindRepoFile("hocon");
        var files = Directory.GetFiles(dir, "*.conf").Where(f => Path.GetFileName(f) != "reference.conf").ToList();
        Assert.NotEmpty(files);
        foreach (var file in files)
        {
            var s = SettingsLoader.Load(file);
            Assert.NotNull(s.Vm);
        }
    }

    [Fact]
    public void Example_VM_files_should_say_which_command_makes_each_file_they_name()
    {
        var dir = FindRepoFile("hocon");
        var repo = Path.GetDirectoryName(dir)!;
        foreach (var file in Directory.GetFiles(dir, "*.conf").Where(f => Path.GetFileName(f) != "reference.conf"))
        {
            var vm = SettingsLoader.Load(file).Vm;
            var named = new[] { vm.Kernel, vm.Initrd, vm.Restore }.Concat(vm.Disks.Select(d => d.Path))
                .Where(p => !string.IsNullOrEmpty(p))
                .Select(p => p!);
            // "#   made-by: PATH <- COMMAND", one line per file the example names.
            var madeBy = File.ReadLines(file)
                .Select(l => l.TrimStart('#', ' '))
                .Where(l => l.StartsWith("made-by: ", StringComparison.Ordinal) && l.Contains(" <- ", StringComparison.Ordinal))
                .Select(l => l["made-by: ".Length..].Split(" <- ", 2))
                .ToDictionary(p => p[0].Trim(), p => p[1].Trim());
            foreach (var path in named)
            {
                Assert.True(madeBy.TryGetValue(path, out var command), $"{Path.GetFileName(file)} names {path} but no '# made-by: {path} <- COMMAND' line says what makes it");
                var tool = command.Split(' ', StringSplitOptions.RemoveEmptyEntries).SkipWhile(w => w == "sudo").First();
                if (tool.StartsWith("tools/", StringComparison.Ordinal))
                {
                    Assert.True(File.Exists(Path.Combine(repo, tool)), $"{Path.GetFileName(file)}: {path} is made by {tool}, which is not in the repository");
                }
            }
        }
    }

    private static string FindRepoFile(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, name);
            if (Directory.Exists(candidate) && File.Exists(Path.Combine(candidate, "reference.conf")))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException(name);
    }
}
