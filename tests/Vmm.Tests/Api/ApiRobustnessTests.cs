using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace ActorVmm.Vmm.Tests.Api;

/// <summary>The API under load and abuse: oversized bodies, concurrent clients, clients that go away mid-request.</summary>
public sealed class ApiRobustnessTests
{
    [Fact]
    public async Task A_body_over_64_KiB_should_answer_413_in_one_line()
    {
        await using var api = await ApiTestServer.StartAsync();
        var json = "{\"cmdline\":\"" + new string('x', 70 * 1024) + "\"}";

        var (status, body) = await api.CreateVmAsync("a", json);

        Assert.Equal(413, status);
        Assert.Equal("request body over 65536 bytes", body.GetProperty("error").GetString());
        Assert.Empty(api.Fake.List());
    }

    [Fact]
    public async Task A_chunked_body_over_64_KiB_should_answer_413()
    {
        await using var api = await ApiTestServer.StartAsync();
        await api.CreateVmAsync("a");
        using var request = new HttpRequestMessage(HttpMethod.Post, "vms/a/console") { Content = new StreamContent(new MemoryStream(new byte[100 * 1024])) };
        request.Headers.TransferEncodingChunked = true;

        using var response = await api.Client.SendAsync(request, TestContext.Current.CancellationToken);

        Assert.Equal(413, (int)response.StatusCode);
        Assert.Empty(api.Fake.ConsoleInput);
    }

    [Fact]
    public async Task Sixteen_concurrent_clients_should_all_be_served()
    {
        await using var api = await ApiTestServer.StartAsync();

        var clients = Enumerable.Range(0, 16).Select(async i =>
        {
            using var client = ApiTestServer.NewClient(api.SocketPath);
            var id = $"vm{i}";
            using var create = await client.PutAsync("vms/" + id, new StringContent("{}", Encoding.UTF8, "application/json"));
            using var start = await client.PostAsync($"vms/{id}/start", null);
            using var fault = await client.PostAsync($"vms/{id}/faults", new StringContent("{\"spec\":\"disk0:crash,every=3\"}", Encoding.UTF8, "application/json"));
            using var list = await client.GetAsync("vms");
            using var metrics = await client.GetAsync("metrics");
            return new[] { (int)create.StatusCode, (int)start.StatusCode, (int)fault.StatusCode, (int)list.StatusCode, (int)metrics.StatusCode };
        }).ToList();
        var results = await Task.WhenAll(clients);

        Assert.All(results, r => Assert.Equal(new[] { 201, 200, 201, 200, 200 }, r));
        Assert.Equal(16, api.Fake.List().Count(v => v.State == "running"));
    }

    [Fact]
    public async Task A_client_that_goes_away_mid_request_should_not_hurt_the_server()
    {
        await using var api = await ApiTestServer.StartAsync();
        using (var socket = await api.ConnectRawAsync())
        {
            // Promises 1000 bytes, sends 10, hangs up.
            await socket.SendAsync(Encoding.ASCII.GetBytes("PUT /vms/half HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"cpus\":1,"));
            socket.Shutdown(SocketShutdown.Both);
        }

        var (status, body) = await api.SendAsync(HttpMethod.Get, "vms");
        var (created, _) = await api.CreateVmAsync("whole");

        Assert.Equal(200, status);
        Assert.Equal(0, body.GetArrayLength());
        Assert.Equal(201, created);
    }

    [Fact]
    public async Task A_client_that_goes_away_mid_console_stream_should_have_its_subscription_disposed()
    {
        await using var api = await ApiTestServer.StartAsync();
        await api.CreateVmAsync("a");
        await api.SendAsync(HttpMethod.Post, "vms/a/start");
        api.Fake.GuestWrites("a", Encoding.ASCII.GetBytes("boot\n"));

        using (var socket = await api.ConnectRawAsync())
        {
            await socket.SendAsync(Encoding.ASCII.GetBytes("GET /vms/a/console?follow=true&tail=5 HTTP/1.1\r\nHost: x\r\n\r\n"));
            var buffer = new byte[4096];
            var received = new StringBuilder();
            while (!received.ToString().Contains("boot\n", StringComparison.Ordinal))
            {
                var read = await socket.ReceiveAsync(buffer);
                Assert.NotEqual(0, read);
                received.Append(Encoding.ASCII.GetString(buffer, 0, read));
            }

            Assert.Equal(1, api.Fake.ActiveSubscriptions);
        }

        await api.Fake.SubscriptionDisposed.Task;
        Assert.Equal(0, api.Fake.ActiveSubscriptions);
        var (status, vm) = await api.SendAsync(HttpMethod.Get, "vms/a");
        Assert.Equal(200, status);
        Assert.Equal("running", vm.GetProperty("state").GetString());
    }

    [Fact]
    public async Task Stopping_the_server_should_end_console_streams_and_dispose_their_subscriptions()
    {
        await using var api = await ApiTestServer.StartAsync();
        await api.CreateVmAsync("a");
        await api.SendAsync(HttpMethod.Post, "vms/a/start");
        using var response = await api.Client.GetAsync("vms/a/console?follow=true", HttpCompletionOption.ResponseHeadersRead, TestContext.Current.CancellationToken);
        await api.Fake.SubscriptionAttached.Task;

        await api.Server.StopAsync();

        await api.Fake.SubscriptionDisposed.Task;
        Assert.Equal(0, api.Fake.ActiveSubscriptions);
        Assert.False(File.Exists(api.SocketPath));
    }

    [Fact]
    public async Task Garbage_on_the_socket_should_not_hurt_the_server()
    {
        await using var api = await ApiTestServer.StartAsync();
        using (var socket = await api.ConnectRawAsync())
        {
            await socket.SendAsync(new byte[] { 0, 1, 2, 0xff, 0x0d, 0x0a, 0x0d, 0x0a });
            var buffer = new byte[1024];
            await socket.ReceiveAsync(buffer);
        }

        var (status, _) = await api.SendAsync(HttpMethod.Get, "vms");

        Assert.Equal(200, status);
    }

    [Fact]
    public async Task Deeply_nested_json_should_be_a_400_not_a_crash()
    {
        await using var api = await ApiTestServer.StartAsync();
        var json = new string('[', 5000) + new string(']', 5000);

        var (status, body) = await api.CreateVmAsync("a", "{\"x\":" + json + "}");

        Assert.Equal(400, status);
        Assert.StartsWith("malformed JSON", body.GetProperty("error").GetString());
        Assert.Equal(JsonValueKind.Array, (await api.SendAsync(HttpMethod.Get, "vms")).Body.ValueKind);
    }
}
