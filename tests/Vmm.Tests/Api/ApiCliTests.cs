using System.Text;
using System.Text.Json;
using ActorVmm.Host.Cli;

namespace ActorVmm.Vmm.Tests.Api;

/// <summary>The <c>actorvmm vm|fault|device</c> client against the real server in front of a fake service.</summary>
public sealed class ApiCliTests
{
    private static async Task<(int Code, string Out, string Err)> RunAsync(ApiTestServer api, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await Task.Run(() => CliApp.Run([.. args, "--api-sock", api.SocketPath], stdout: stdout, stderr: stderr), TestContext.Current.CancellationToken);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    [Fact]
    public async Task Vm_create_should_send_runs_vm_options_as_hocon_keys_with_absolute_paths()
    {
        await using var api = await ApiTestServer.StartAsync();

        var (code, output, error) = await RunAsync(api, "vm", "create", "web", "--cpus", "2", "--memory", "1G", "--disk", "disk.img,ro", "--rng", "--fault", "disk0:crash,every=3", "--console", "virtio");

        Assert.True(code == 0, error);
        Assert.Equal(["ID   STATE    EXIT", "web  created  -"], Lines(output));
        using var body = JsonDocument.Parse(Assert.Single(api.Fake.Created).Json);
        var root = body.RootElement;
        Assert.Equal(2, root.GetProperty("cpus").GetInt32());
        Assert.Equal("1G", root.GetProperty("memory").GetString());
        Assert.Equal(Path.GetFullPath("disk.img") + ",ro", root.GetProperty("disks")[0].GetString());
        Assert.True(root.GetProperty("rng").GetBoolean());
        Assert.Equal("virtio", root.GetProperty("console").GetString());
        Assert.Equal("disk0:crash,every=3", root.GetProperty("faults")[0].GetString());
        Assert.False(root.TryGetProperty("kernel", out _));
    }

    [Fact]
    public async Task Vm_create_should_take_a_config_file_under_its_options()
    {
        await using var api = await ApiTestServer.StartAsync();
        var config = Path.Combine(api.Directory, "vm.conf");
        await File.WriteAllTextAsync(config, "actorvmm.vm { cpus = 4, kernel = \"vmlinux\", disks = [{ path = \"a.img\", read-only = true }] }", TestContext.Current.CancellationToken);

        var (code, _, error) = await RunAsync(api, "vm", "create", "web", "--config", config, "--cpus", "3");

        Assert.True(code == 0, error);
        using var body = JsonDocument.Parse(Assert.Single(api.Fake.Created).Json);
        var root = body.RootElement;
        Assert.Equal(3, root.GetProperty("cpus").GetInt32());
        Assert.Equal(Path.GetFullPath("vmlinux"), root.GetProperty("kernel").GetString());
        Assert.Equal(Path.GetFullPath("a.img"), root.GetProperty("disks")[0].GetProperty("path").GetString());
        Assert.True(root.GetProperty("disks")[0].GetProperty("read-only").GetBoolean());
    }

    [Fact]
    public async Task Vm_create_should_refuse_a_bad_option_before_asking_the_server()
    {
        await using var api = await ApiTestServer.StartAsync();

        var (code, _, error) = await RunAsync(api, "vm", "create", "web", "--memory", "3");

        Assert.Equal(2, code);
        Assert.StartsWith("actorvmm: ", error);
        Assert.Contains("--memory", error);
        Assert.Single(Lines(error));
        Assert.Empty(api.Fake.Created);
    }

    [Fact]
    public async Task Vm_create_should_send_restore_as_an_absolute_path_with_start_paused_and_the_clones_disk()
    {
        await using var api = await ApiTestServer.StartAsync();

        var (code, _, error) = await RunAsync(api, "vm", "create", "clone-1", "--restore", "snap", "--disk", "clone-1.img", "--paused");

        Assert.True(code == 0, error);
        using var body = JsonDocument.Parse(Assert.Single(api.Fake.Created).Json);
        var root = body.RootElement;
        Assert.Equal(Path.GetFullPath("snap"), root.GetProperty("restore").GetString());
        Assert.True(root.GetProperty("start-paused").GetBoolean());
        Assert.Equal(Path.GetFullPath("clone-1.img"), root.GetProperty("disks")[0].GetString());
        Assert.False(root.TryGetProperty("memory", out _));
    }

    [Theory]
    [InlineData("--memory", "1G")]
    [InlineData("--kernel", "vmlinux")]
    [InlineData("--rng")]
    public async Task Vm_create_with_restore_should_refuse_an_option_of_another_machine(params string[] option)
    {
        await using var api = await ApiTestServer.StartAsync();

        var (code, _, error) = await RunAsync(api, ["vm", "create", "clone-1", "--restore", "snap", .. option]);

        Assert.Equal(2, code);
        Assert.Equal($"actorvmm: {option[0]} cannot be given with --restore: the machine comes from the snapshot (see actorvmm --help)", Assert.Single(Lines(error)));
        Assert.Empty(api.Fake.Created);
    }

    [Theory]
    [InlineData("vm", "snapshot")]
    [InlineData("snapshot")]
    public async Task Snapshot_should_send_an_absolute_dir_and_print_one_line(params string[] command)
    {
        await using var api = await ApiTestServer.StartAsync();
        await api.CreateVmAsync("vm1");
        await api.SendAsync(HttpMethod.Post, "vms/vm1/start");
        await api.SendAsync(HttpMethod.Post, "vms/vm1/pause");

        var (code, output, error) = await RunAsync(api, [.. command, "vm1", "snaps/one"]);

        Assert.True(code == 0, error);
        var dir = Path.GetFullPath("snaps/one");
        Assert.Equal(("vm1", dir), Assert.Single(api.Fake.Snapshots));
        Assert.Equal($"vm1: snapshot in {dir} (state 41 KiB, memory 256 MiB, 18 MiB written) in 312 ms", Assert.Single(Lines(output)));
    }

    [Fact]
    public async Task Snapshot_with_json_should_print_the_servers_json()
    {
        await using var api = await ApiTestServer.StartAsync();
        await api.CreateVmAsync("vm1");
        await api.SendAsync(HttpMethod.Post, "vms/vm1/start");
        await api.SendAsync(HttpMethod.Post, "vms/vm1/pause");

        var (code, output, _) = await RunAsync(api, "vm", "snapshot", "vm1", "/srv/snap", "--json");

        Assert.Equal(0, code);
        using var document = JsonDocument.Parse(output);
        Assert.Equal(18L << 20, document.RootElement.GetProperty("memory-written-bytes").GetInt64());
    }

    [Fact]
    public async Task Snapshot_refusals_should_print_the_servers_line_and_exit_2()
    {
        await using var api = await ApiTestServer.StartAsync();
        await api.CreateVmAsync("vm1");
        await api.SendAsync(HttpMethod.Post, "vms/vm1/start");

        var (running, _, runningError) = await RunAsync(api, "snapshot", "vm1", "/srv/snap");
        await api.SendAsync(HttpMethod.Post, "vms/vm1/pause");
        var (occupied, _, occupiedError) = await RunAsync(api, "vm", "snapshot", "vm1", FakeVmService.OccupiedDir);
        var (missing, _, missingError) = await RunAsync(api, "vm", "snapshot", "nope", "/srv/snap");

        Assert.Equal(2, running);
        Assert.Equal("actorvmm: VM vm1 is running: pause it before a snapshot", Assert.Single(Lines(runningError)));
        Assert.Equal(2, occupied);
        Assert.Equal($"actorvmm: dir is not empty: {FakeVmService.OccupiedDir}", Assert.Single(Lines(occupiedError)));
        Assert.Equal(2, missing);
        Assert.Equal("actorvmm: no VM nope", Assert.Single(Lines(missingError)));
        Assert.Empty(api.Fake.Snapshots);
    }

    [Fact]
    public void Help_should_list_snapshot_under_vm_and_at_the_top()
    {
        var top = new StringWriter();
        var vm = new StringWriter();
        var create = new StringWriter();

        Assert.Equal(0, CliApp.Run(["--help"], stdout: top, stderr: TextWriter.Null));
        Assert.Equal(0, CliApp.Run(["vm", "--help"], stdout: vm, stderr: TextWriter.Null));
        Assert.Equal(0, CliApp.Run(["vm", "create", "--help"], stdout: create, stderr: TextWriter.Null));

        Assert.Contains("snapshot", top.ToString());
        Assert.Contains("vm snapshot", top.ToString());
        Assert.Contains("snapshot", vm.ToString());
        Assert.Contains("actorvmm snapshot", vm.ToString());
        Assert.Contains("--restore", create.ToString());
        Assert.Contains("--paused", create.ToString());
    }

    [Theory]
    [InlineData(0, "0 B")]
    [InlineData(1023, "1023 B")]
    [InlineData(41 * 1024 + 100, "41 KiB")]
    [InlineData(1536, "1.5 KiB")]
    [InlineData(256L << 20, "256 MiB")]
    [InlineData(3L << 30, "3 GiB")]
    public void Sizes_should_print_in_binary_units(long bytes, string expected)
    {
        Assert.Equal(expected, ClientCommands.Size(bytes));
    }

    [Fact]
    public async Task Vm_ls_should_print_a_table_and_json_with_json()
    {
        await using var api = await ApiTestServer.StartAsync();
        await api.CreateVmAsync("alpha");
        await api.CreateVmAsync("b");
        await api.SendAsync(HttpMethod.Post, "vms/b/start");
        await api.SendAsync(HttpMethod.Post, "vms/b/kill");

        var (code, table, _) = await RunAsync(api, "vm", "ls");
        var (jsonCode, json, _) = await RunAsync(api, "vm", "ls", "--json");

        Assert.Equal(0, code);
        Assert.Equal(["ID     STATE    EXIT", "alpha  created  -", "b      stopped  host-request (0): stopped by the test"], Lines(table));
        Assert.Equal(0, jsonCode);
        using var document = JsonDocument.Parse(json);
        Assert.Equal(2, document.RootElement.GetArrayLength());
        Assert.Equal("host-request", document.RootElement[1].GetProperty("exit").GetProperty("reason").GetString());
    }

    [Fact]
    public async Task Vm_lifecycle_commands_should_drive_the_vm()
    {
        await using var api = await ApiTestServer.StartAsync();
        await api.CreateVmAsync("a");

        Assert.Equal(0, (await RunAsync(api, "vm", "start", "a")).Code);
        Assert.Equal(0, (await RunAsync(api, "vm", "pause", "a")).Code);
        Assert.Equal(0, (await RunAsync(api, "vm", "resume", "a")).Code);
        var (code, output, _) = await RunAsync(api, "vm", "stop", "a", "--timeout", "3");
        Assert.Equal(0, code);
        Assert.Contains("stopped", output);
        Assert.Equal(TimeSpan.FromSeconds(3), api.Fake.LastStopTimeout);
        var (showCode, show, _) = await RunAsync(api, "vm", "show", "a", "--json");
        Assert.Equal(0, showCode);
        Assert.Contains("\"state\":\"stopped\"", show);
        Assert.Equal(0, (await RunAsync(api, "vm", "rm", "a")).Code);
        Assert.Empty(api.Fake.List());
    }

    [Fact]
    public async Task A_refusal_should_print_the_servers_line_and_exit_2()
    {
        await using var api = await ApiTestServer.StartAsync();
        await api.CreateVmAsync("a");

        var (missing, _, missingError) = await RunAsync(api, "vm", "show", "nope");
        var (conflict, _, conflictError) = await RunAsync(api, "vm", "pause", "a");

        Assert.Equal(2, missing);
        Assert.Equal("actorvmm: no VM nope", missingError.Trim());
        Assert.Equal(2, conflict);
        Assert.Equal("actorvmm: VM a is created, not running", conflictError.Trim());
    }

    [Fact]
    public async Task A_server_error_should_exit_1()
    {
        await using var api = await ApiTestServer.StartAsync();

        var (code, _, error) = await RunAsync(api, "vm", "show", "boom");

        Assert.Equal(1, code);
        Assert.Equal("actorvmm: internal error: InvalidOperationException: the fake blew up", error.Trim());
    }

    [Fact]
    public async Task An_unreachable_server_should_name_the_socket_and_exit_1()
    {
        var socket = Path.Combine("/tmp", "avmm-none-" + Guid.NewGuid().ToString("N")[..8] + ".sock");
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        var code = await Task.Run(() => CliApp.Run(["vm", "ls", "--api-sock", socket], stdout: stdout, stderr: stderr), TestContext.Current.CancellationToken);

        Assert.Equal(1, code);
        Assert.StartsWith($"actorvmm: cannot reach actorvmm serve at {socket}", stderr.ToString());
        Assert.Single(Lines(stderr.ToString()));
    }

    [Fact]
    public async Task Fault_commands_should_add_list_and_remove()
    {
        await using var api = await ApiTestServer.StartAsync();
        await api.CreateVmAsync("a");

        var (addCode, added, _) = await RunAsync(api, "fault", "add", "a", "disk0:crash,every=3", "--json");
        var id = JsonDocument.Parse(added).RootElement.GetProperty("id").GetString()!;
        var (lsCode, listed, _) = await RunAsync(api, "fault", "ls", "a");
        var (rmCode, _, _) = await RunAsync(api, "fault", "rm", "a", id);
        var (againCode, _, againError) = await RunAsync(api, "fault", "rm", "a", id);

        Assert.Equal(0, addCode);
        Assert.Equal(0, lsCode);
        Assert.Equal(["ID  DEVICE  SPEC                 FIRED", $"{id}  disk0   disk0:crash,every=3  0"], Lines(listed));
        Assert.Equal(0, rmCode);
        Assert.Empty(api.Fake.Faults("a"));
        Assert.Equal(2, againCode);
        Assert.Contains(id, againError);
    }

    [Fact]
    public async Task Device_commands_should_list_and_crash()
    {
        await using var api = await ApiTestServer.StartAsync();
        await api.CreateVmAsync("a");

        var (crashCode, _, _) = await RunAsync(api, "device", "crash", "a", "disk0");
        var (lsCode, listed, _) = await RunAsync(api, "device", "ls", "a");

        Assert.Equal(0, crashCode);
        Assert.Equal(0, lsCode);
        var lines = Lines(listed);
        Assert.Equal("NAME     KIND        STATE    RESTARTS  FAILURES  FAULTS-FIRED", lines[0]);
        Assert.Equal("disk0    virtio-blk  running  1         1         0", lines[2]);
    }

    [Fact]
    public async Task Vm_stats_should_print_each_table()
    {
        await using var api = await ApiTestServer.StartAsync();
        await api.CreateVmAsync("a");

        var (code, output, _) = await RunAsync(api, "vm", "stats", "a");

        Assert.Equal(0, code);
        var lines = Lines(output);
        Assert.Contains("total-exits: 42", lines);
        Assert.Contains("by-reason:", lines);
        Assert.Contains("EVENT  COUNT  MEAN-NS  P50-NS  P99-NS  MAX-NS", lines);
        Assert.Contains("io     40     1500.5   1200    9000    12000", lines);
        Assert.Contains("interrupts:", lines);
    }

    [Fact]
    public async Task Vm_console_should_print_the_tail_and_follow_until_the_vm_stops()
    {
        await using var api = await ApiTestServer.StartAsync();
        await api.CreateVmAsync("a");
        await api.SendAsync(HttpMethod.Post, "vms/a/start");
        api.Fake.GuestWrites("a", Encoding.UTF8.GetBytes("Linux version 6.1 ✓\n"));

        var (tailCode, tail, _) = await RunAsync(api, "vm", "console", "a", "--tail", "4");
        var follow = RunAsync(api, "vm", "console", "a", "--follow");
        await api.Fake.SubscriptionAttached.Task;
        api.Fake.GuestWrites("a", Encoding.UTF8.GetBytes("login: "));
        await api.SendAsync(HttpMethod.Post, "vms/a/stop");
        var (followCode, followed, _) = await follow;

        Assert.Equal(0, tailCode);
        Assert.Equal("✓\n", tail);
        Assert.Equal(0, followCode);
        Assert.Equal("login: ", followed);
    }
}
