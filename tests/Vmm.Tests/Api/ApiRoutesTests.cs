using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace ActorVmm.Vmm.Tests.Api;

/// <summary>The REST API's routes against a fake service: status codes and JSON shapes (kebab-case keys).</summary>
public sealed class ApiRoutesTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Error(JsonElement body)
    {
        Assert.Equal(JsonValueKind.Object, body.ValueKind);
        var error = body.GetProperty("error").GetString()!;
        Assert.DoesNotContain('\n', error);
        return error;
    }

    [Fact]
    public async Task Create_should_answer_201_with_the_vm_and_pass_the_body_to_the_service()
    {
        await using var api = await ApiTestServer.StartAsync();

        var (status, body) = await api.CreateVmAsync("web-1", "{\"cpus\":2,\"disks\":[{\"path\":\"/d.img\",\"read-only\":true}]}");

        Assert.Equal(201, status);
        Assert.Equal("web-1", body.GetProperty("id").GetString());
        Assert.Equal("created", body.GetProperty("state").GetString());
        Assert.Equal(JsonValueKind.Null, body.GetProperty("exit").ValueKind);
        var created = Assert.Single(api.Fake.Created);
        Assert.Equal("web-1", created.Id);
        Assert.Contains("\"read-only\":true", created.Json);
    }

    [Fact]
    public async Task Create_should_answer_409_when_the_vm_exists()
    {
        await using var api = await ApiTestServer.StartAsync();
        await api.CreateVmAsync("a");

        var (status, body) = await api.CreateVmAsync("a");

        Assert.Equal(409, status);
        Assert.Contains("already exists", Error(body));
    }

    [Theory]
    [InlineData("{\"cpus\":", "malformed JSON: ")]
    [InlineData("not json", "malformed JSON: ")]
    [InlineData("[1,2]", "must be a JSON object, not an array")]
    [InlineData("\"text\"", "must be a JSON object, not a string")]
    [InlineData("{\"cpus\":\"two\"}", "cpus")]
    public async Task Create_should_answer_400_naming_the_problem(string json, string expected)
    {
        await using var api = await ApiTestServer.StartAsync();

        var (status, body) = await api.CreateVmAsync("a", json);

        Assert.Equal(400, status);
        Assert.Contains(expected, Error(body));
        Assert.Empty(api.Fake.List());
    }

    [Theory]
    [InlineData("-leading-dash")]
    [InlineData("has%20space")]
    [InlineData("semi%3Bcolon")]
    [InlineData("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    public async Task Create_should_answer_400_for_a_bad_id(string id)
    {
        await using var api = await ApiTestServer.StartAsync();

        var (status, body) = await api.CreateVmAsync(id);

        Assert.Equal(400, status);
        Assert.StartsWith("bad VM id", Error(body));
    }

    [Fact]
    public async Task List_and_get_should_show_the_vms_with_their_exit()
    {
        await using var api = await ApiTestServer.StartAsync();
        await api.CreateVmAsync("b");
        await api.CreateVmAsync("a");
        await api.SendAsync(HttpMethod.Post, "vms/a/start");
        await api.SendAsync(HttpMethod.Post, "vms/a/kill");

        var (listStatus, list) = await api.SendAsync(HttpMethod.Get, "vms");
        var (getStatus, vm) = await api.SendAsync(HttpMethod.Get, "vms/a");

        Assert.Equal(200, listStatus);
        Assert.Equal(["a", "b"], list.EnumerateArray().Select(v => v.GetProperty("id").GetString()!).ToArray());
        Assert.Equal(200, getStatus);
        Assert.Equal("stopped", vm.GetProperty("state").GetString());
        var exit = vm.GetProperty("exit");
        Assert.Equal("host-request", exit.GetProperty("reason").GetString());
        Assert.Equal(0, exit.GetProperty("code").GetInt32());
        Assert.Equal("stopped by the test", exit.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Unknown_vm_should_answer_404_on_every_vm_route()
    {
        await using var api = await ApiTestServer.StartAsync();
        var requests = new (HttpMethod Method, string Path, string? Json)[]
        {
            (HttpMethod.Get, "vms/nope", null), (HttpMethod.Delete, "vms/nope", null),
            (HttpMethod.Post, "vms/nope/start", null), (HttpMethod.Post, "vms/nope/pause", null), (HttpMethod.Post, "vms/nope/resume", null),
            (HttpMethod.Post, "vms/nope/stop", null), (HttpMethod.Post, "vms/nope/kill", null),
            (HttpMethod.Post, "vms/nope/snapshot", "{\"dir\":\"/tmp/s\"}"),
            (HttpMethod.Get, "vms/nope/devices", null), (HttpMethod.Post, "vms/nope/devices/disk0/crash", null),
            (HttpMethod.Get, "vms/nope/faults", null), (HttpMethod.Post, "vms/nope/faults", "{\"spec\":\"disk0:crash\"}"),
            (HttpMethod.Delete, "vms/nope/faults/f1", null), (HttpMethod.Get, "vms/nope/stats", null),
            (HttpMethod.Post, "vms/nope/trace", "{\"file\":\"/tmp/t.json\"}"), (HttpMethod.Delete, "vms/nope/trace", null),
            (HttpMethod.Get, "vms/nope/console", null), (HttpMethod.Get, "vms/nope/console?follow=true", null),
            (HttpMethod.Post, "vms/nope/console", "x"),
        };

        foreach (var (method, path, json) in requests)
        {
            var (status, body) = await api.SendAsync(method, path, json);
            Assert.True(status == 404, $"{method} {path}: {status}");
            Assert.Equal("no VM nope", Error(body));
        }
    }

    [Fact]
    public async Task Lifecycle_routes_should_answer_200_with_the_vm_and_409_in_the_wrong_state()
    {
        await using var api = await ApiTestServer.StartAsync();
        await api.CreateVmAsync("a");

        var (pauseEarly, error) = await api.SendAsync(HttpMethod.Post, "vms/a/pause");
        Assert.Equal(409, pauseEarly);
        Assert.Contains("created", Error(error));

        foreach (var (action, state) in new[] { ("start", "running"), ("pause", "paused"), ("resume", "running"), ("stop", "stopped") })
        {
            var (status, vm) = await api.SendAsync(HttpMethod.Post, $"vms/a/{action}");
            Assert.Equal(200, status);
            Assert.Equal(state, vm.GetProperty("state").GetString());
        }

        Assert.Equal(409, (await api.SendAsync(HttpMethod.Post, "vms/a/kill")).Status);
    }

    [Fact]
    public async Task Stop_should_pass_its_timeout_and_refuse_a_bad_one()
    {
        await using var api = await ApiTestServer.StartAsync();
        await api.CreateVmAsync("a");
        await api.SendAsync(HttpMethod.Post, "vms/a/start");

        var (bad, error) = await api.SendAsync(HttpMethod.Post, "vms/a/stop?timeout=soon");
        var (good, _) = await api.SendAsync(HttpMethod.Post, "vms/a/stop?timeout=2.5");

        Assert.Equal(400, bad);
        Assert.StartsWith("timeout must be", Error(error));
        Assert.Equal(200, good);
        Assert.Equal(TimeSpan.FromSeconds(2.5), api.Fake.LastStopTimeout);
    }

    [Fact]
    public async Task Snapshot_should_answer_200_with_the_sizes_in_kebab_case_for_a_paused_vm()
    {
        await using var api = await ApiTestServer.StartAsync();
        await api.CreateVmAsync("a");
        await api.SendAsync(HttpMethod.Post, "vms/a/start");
        await api.SendAsync(HttpMethod.Post, "vms/a/pause");

        var (status, snapshot) = await api.SendAsync(HttpMethod.Post, "vms/a/snapshot", "{\"dir\":\"/srv/snap-1\"}");

        Assert.Equal(200, status);
        Assert.Equal(("a", "/srv/snap-1"), Assert.Single(api.Fake.Snapshots));
        Assert.Equal("a", snapshot.GetProperty("id").GetString());
        Assert.Equal("/srv/snap-1", snapshot.GetProperty("dir").GetString());
        Assert.Equal(41 * 1024 + 100, snapshot.GetProperty("state-bytes").GetInt64());
        Assert.Equal(256L << 20, snapshot.GetProperty("memory-bytes").GetInt64());
        Assert.Equal(18L << 20, snapshot.GetProperty("memory-written-bytes").GetInt64());
        Assert.Equal(312.4, snapshot.GetProperty("took-ms").GetDouble());
        Assert.Equal("paused", (await api.SendAsync(HttpMethod.Get, "vms/a")).Body.GetProperty("state").GetString());
    }

    [Fact]
    public async Task Snapshot_should_answer_409_unless_the_vm_is_paused()
    {
        await using var api = await ApiTestServer.StartAsync();
        await api.CreateVmAsync("a");
        await api.SendAsync(HttpMethod.Post, "vms/a/start");

        var (status, body) = await api.SendAsync(HttpMethod.Post, "vms/a/snapshot", "{\"dir\":\"/srv/snap-1\"}");

        Assert.Equal(409, status);
        Assert.Equal("VM a is running: pause it before a snapshot", Error(body));
        Assert.Empty(api.Fake.Snapshots);
    }

    [Theory]
    [InlineData("{}", "dir is required")]
    [InlineData("{\"dir\":null}", "dir is required")]
    [InlineData("{\"dir\":3}", "dir must be a string, not a number")]
    [InlineData("{\"dir\":\"\"}", "dir must not be empty")]
    [InlineData("{\"dir\":\"/occupied\"}", "dir is not empty: /occupied")]
    [InlineData("{\"dir\":", "malformed JSON: ")]
    [InlineData("[\"/srv/snap\"]", "the body must be a JSON object, not an array")]
    public async Task Snapshot_should_answer_400_naming_the_field(string json, string expected)
    {
        await using var api = await ApiTestServer.StartAsync();
        await api.CreateVmAsync("a");
        await api.SendAsync(HttpMethod.Post, "vms/a/start");
        await api.SendAsync(HttpMethod.Post, "vms/a/pause");

        var (status, body) = await api.SendAsync(HttpMethod.Post, "vms/a/snapshot", json);

        Assert.Equal(400, status);
        Assert.StartsWith(expected, Error(body));
        Assert.Empty(api.Fake.Snapshots);
    }

    [Fact]
    public async Task Create_should_pass_a_restore_body_to_the_service_as_it_is()
    {
        await using var api = await ApiTestServer.StartAsync();

        var (status, _) = await api.CreateVmAsync("clone-1", "{\"restore\":\"/srv/snap-1\",\"start-paused\":true,\"disks\":[\"/srv/clone-1.img\"]}");

        Assert.Equal(201, status);
        using var body = JsonDocument.Parse(Assert.Single(api.Fake.Created).Json);
        Assert.Equal("/srv/snap-1", body.RootElement.GetProperty("restore").GetString());
        Assert.True(body.RootElement.GetProperty("start-paused").GetBoolean());
    }

    [Fact]
    public async Task Delete_should_answer_204_and_forget_the_vm()
    {
        await using var api = await ApiTestServer.StartAsync();
        await api.CreateVmAsync("a");

        using var response = await api.Client.DeleteAsync("vms/a", Ct);

        Assert.Equal(204, (int)response.StatusCode);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync(Ct));
        Assert.Equal(404, (await api.SendAsync(HttpMethod.Get, "vms/a")).Status);
    }

    [Fact]
    public async Task Devices_should_list_kebab_case_counters_and_crash_should_answer_202()
    {
        await using var api = await ApiTestServer.StartAsync();
        await api.CreateVmAsync("a");

        var (crash, _) = await api.SendAsync(HttpMethod.Post, "vms/a/devices/disk0/crash");
        var (unknown, error) = await api.SendAsync(HttpMethod.Post, "vms/a/devices/disk9/crash");
        var (status, devices) = await api.SendAsync(HttpMethod.Get, "vms/a/devices");

        Assert.Equal(202, crash);
        Assert.Equal(404, unknown);
        Assert.Contains("disk9", Error(error));
        Assert.Equal(200, status);
        var disk = devices.EnumerateArray().Single(d => d.GetProperty("name").GetString() == "disk0");
        Assert.Equal("virtio-blk", disk.GetProperty("kind").GetString());
        Assert.Equal(1, disk.GetProperty("restarts").GetInt64());
        Assert.Equal(0, disk.GetProperty("faults-fired").GetInt64());
    }

    [Fact]
    public async Task Faults_should_be_added_listed_and_removed()
    {
        await using var api = await ApiTestServer.StartAsync();
        await api.CreateVmAsync("a");

        var (added, fault) = await api.SendAsync(HttpMethod.Post, "vms/a/faults", "{\"spec\":\"disk0:crash,every=3\"}");
        var id = fault.GetProperty("id").GetString()!;
        var (listed, faults) = await api.SendAsync(HttpMethod.Get, "vms/a/faults");
        var (removed, _) = await api.SendAsync(HttpMethod.Delete, $"vms/a/faults/{id}");
        var (again, error) = await api.SendAsync(HttpMethod.Delete, $"vms/a/faults/{id}");

        Assert.Equal(201, added);
        Assert.Equal("disk0", fault.GetProperty("device").GetString());
        Assert.Equal("disk0:crash,every=3", fault.GetProperty("spec").GetString());
        Assert.Equal(0, fault.GetProperty("fired").GetInt64());
        Assert.Equal(200, listed);
        Assert.Equal(id, Assert.Single(faults.EnumerateArray()).GetProperty("id").GetString());
        Assert.Equal(204, removed);
        Assert.Equal(404, again);
        Assert.Contains(id, Error(error));
    }

    [Theory]
    [InlineData("{\"spec\":3}", "spec must be a string, not a number")]
    [InlineData("{\"spec\":[\"disk0:crash\"]}", "spec must be a string, not an array")]
    [InlineData("{}", "spec is required")]
    [InlineData("{\"spec\":\"nocolon\"}", "fault must be DEVICE:KIND")]
    [InlineData("{\"spec\":\"disk0:crash\"", "malformed JSON: ")]
    public async Task Fault_add_should_answer_400_naming_the_field(string json, string expected)
    {
        await using var api = await ApiTestServer.StartAsync();
        await api.CreateVmAsync("a");

        var (status, body) = await api.SendAsync(HttpMethod.Post, "vms/a/faults", json);

        Assert.Equal(400, status);
        Assert.StartsWith(expected, Error(body));
    }

    [Fact]
    public async Task Stats_should_answer_the_tables_in_kebab_case()
    {
        await using var api = await ApiTestServer.StartAsync();
        await api.CreateVmAsync("a");

        var (status, stats) = await api.SendAsync(HttpMethod.Get, "vms/a/stats");

        Assert.Equal(200, status);
        Assert.Equal(42, stats.GetProperty("total-exits").GetInt64());
        Assert.Equal("io", stats.GetProperty("by-reason")[0].GetProperty("event").GetString());
        Assert.Equal(9000, stats.GetProperty("by-reason")[0].GetProperty("p99-ns").GetDouble());
        Assert.Equal(1536, stats.GetProperty("devices")[0].GetProperty("virtio-bytes").GetInt64());
        Assert.Equal(4UL, stats.GetProperty("interrupts")[0].GetProperty("gsi").GetUInt64());
    }

    [Fact]
    public async Task Trace_should_start_with_file_and_format_and_stop()
    {
        await using var api = await ApiTestServer.StartAsync();
        await api.CreateVmAsync("a");

        var (notRunning, _) = await api.SendAsync(HttpMethod.Post, "vms/a/trace", "{\"file\":\"/tmp/t.jsonl\",\"format\":\"jsonl\"}");
        await api.SendAsync(HttpMethod.Post, "vms/a/start");
        var (badType, error) = await api.SendAsync(HttpMethod.Post, "vms/a/trace", "{\"file\":\"/tmp/t.jsonl\",\"format\":1}");
        var (started, _) = await api.SendAsync(HttpMethod.Post, "vms/a/trace", "{\"file\":\"/tmp/t.jsonl\",\"format\":\"jsonl\"}");
        var trace = api.Fake.Trace;
        var (stopped, _) = await api.SendAsync(HttpMethod.Delete, "vms/a/trace");

        Assert.Equal(409, notRunning);
        Assert.Equal(400, badType);
        Assert.StartsWith("format must be a string", Error(error));
        Assert.Equal(204, started);
        Assert.Equal(("/tmp/t.jsonl", "jsonl"), trace);
        Assert.Equal(204, stopped);
        Assert.Null(api.Fake.Trace);
    }

    [Fact]
    public async Task Console_tail_should_answer_the_last_bytes_raw()
    {
        await using var api = await ApiTestServer.StartAsync();
        await api.CreateVmAsync("a");
        api.Fake.GuestWrites("a", Encoding.ASCII.GetBytes("hello world\n"));

        using var response = await api.Client.GetAsync("vms/a/console?tail=6", Ct);
        var (badTail, error) = await api.SendAsync(HttpMethod.Get, "vms/a/console?tail=-1");

        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("application/octet-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("world\n", Encoding.ASCII.GetString(await response.Content.ReadAsByteArrayAsync(Ct)));
        Assert.Equal(400, badTail);
        Assert.StartsWith("tail must be an integer", Error(error));
    }

    [Fact]
    public async Task Console_follow_should_stream_the_tail_then_new_output_until_the_vm_stops()
    {
        await using var api = await ApiTestServer.StartAsync();
        await api.CreateVmAsync("a");
        await api.SendAsync(HttpMethod.Post, "vms/a/start");
        api.Fake.GuestWrites("a", Encoding.ASCII.GetBytes("boot\n"));

        using var response = await api.Client.GetAsync("vms/a/console?follow=true&tail=5", HttpCompletionOption.ResponseHeadersRead, Ct);
        await using var stream = await response.Content.ReadAsStreamAsync(Ct);
        var first = await ReadAtLeastAsync(stream, 5);
        api.Fake.GuestWrites("a", Encoding.ASCII.GetBytes("login: "));
        var second = await ReadAtLeastAsync(stream, 7);
        await api.SendAsync(HttpMethod.Post, "vms/a/stop");
        var rest = await new StreamReader(stream).ReadToEndAsync(Ct);

        Assert.Equal("boot\n", first);
        Assert.Equal("login: ", second);
        Assert.Equal(string.Empty, rest);
        await api.Fake.SubscriptionDisposed.Task;
        Assert.Equal(0, api.Fake.ActiveSubscriptions);
    }

    [Fact]
    public async Task Console_input_should_reach_the_service()
    {
        await using var api = await ApiTestServer.StartAsync();
        await api.CreateVmAsync("a");

        using var content = new ByteArrayContent([0x6c, 0x73, 0x0a]);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var response = await api.Client.PostAsync("vms/a/console", content, Ct);

        Assert.Equal(204, (int)response.StatusCode);
        Assert.Equal(new byte[] { 0x6c, 0x73, 0x0a }, Assert.Single(api.Fake.ConsoleInput));
    }

    [Fact]
    public async Task Unknown_route_should_answer_404_and_a_wrong_method_405_as_json()
    {
        await using var api = await ApiTestServer.StartAsync();

        var (unknown, unknownBody) = await api.SendAsync(HttpMethod.Get, "nothing/here");
        var (wrongMethod, wrongBody) = await api.SendAsync(HttpMethod.Patch, "vms");

        Assert.Equal(404, unknown);
        Assert.Equal("no such route: GET /nothing/here", Error(unknownBody));
        Assert.Equal(405, wrongMethod);
        Assert.Equal("method PATCH not allowed on /vms", Error(wrongBody));
    }

    [Fact]
    public async Task An_unexpected_exception_should_answer_500_in_one_line_and_the_server_should_keep_serving()
    {
        await using var api = await ApiTestServer.StartAsync();

        var (status, body) = await api.SendAsync(HttpMethod.Get, "vms/boom");
        var (after, _) = await api.SendAsync(HttpMethod.Get, "vms");

        Assert.Equal(500, status);
        Assert.Equal("internal error: InvalidOperationException: the fake blew up", Error(body));
        Assert.Equal(200, after);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Socket_should_be_private_to_its_user()
    {
        await using var api = await ApiTestServer.StartAsync();

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(api.SocketPath));
    }

    [Fact]
    public async Task Disposing_the_server_should_remove_the_socket_file()
    {
        var api = await ApiTestServer.StartAsync();
        var path = api.SocketPath;

        await api.Server.DisposeAsync();

        Assert.False(File.Exists(path));
        await api.DisposeAsync();
    }

    [Fact]
    public async Task Start_should_refuse_a_path_that_exists_and_leave_it_alone()
    {
        var file = Path.Combine("/tmp", "avmm-exists-" + Guid.NewGuid().ToString("N")[..8]);
        await File.WriteAllTextAsync(file, "keep", Ct);
        try
        {
            var e = await Assert.ThrowsAsync<ActorVmm.Host.Api.ApiSocketException>(() =>
                ActorVmm.Host.Api.ApiServer.StartAsync(new FakeVmService(), file, new Serilog.LoggerConfiguration().CreateLogger(), Ct));

            Assert.Contains(file, e.Message);
            Assert.Equal("keep", await File.ReadAllTextAsync(file, Ct));
        }
        finally
        {
            File.Delete(file);
        }
    }

    internal static async Task<string> ReadAtLeastAsync(Stream stream, int count)
    {
        var buffer = new byte[count];
        await stream.ReadExactlyAsync(buffer, Ct);
        return Encoding.ASCII.GetString(buffer);
    }
}
