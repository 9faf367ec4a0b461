using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using ActorVmm.Host.Api;

namespace ActorVmm.Vmm.Tests.Api;

/// <summary>The real API server on a temporary Unix socket in front of a <see cref="FakeVmService"/>, and an HTTP client for it.</summary>
internal sealed class ApiTestServer : IAsyncDisposable
{
    private ApiTestServer(string directory, FakeVmService fake, ApiServer server)
    {
        Directory = directory;
        Fake = fake;
        Server = server;
        Client = NewClient(server.SocketPath);
    }

    public string Directory { get; }

    public FakeVmService Fake { get; }

    public ApiServer Server { get; }

    public HttpClient Client { get; }

    public string SocketPath => Server.SocketPath;

    public static async Task<ApiTestServer> StartAsync()
    {
        // Short: a Unix socket path has at most 107 bytes.
        var directory = Path.Combine("/tmp", "avmm-api-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(directory);
        var fake = new FakeVmService();
        var log = new Serilog.LoggerConfiguration().CreateLogger();
        var server = await ApiServer.StartAsync(fake, Path.Combine(directory, "api.sock"), log);
        return new ApiTestServer(directory, fake, server);
    }

    public static HttpClient NewClient(string socketPath) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (_, cancellation) =>
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellation);
            return new NetworkStream(socket, ownsSocket: true);
        },
    })
    { BaseAddress = new Uri("http://actorvmm/") };

    /// <summary>A raw connection to the socket, for requests HttpClient will not send (cut short, oversized).</summary>
    public async Task<Socket> ConnectRawAsync()
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(SocketPath));
        return socket;
    }

    public async Task<(int Status, JsonElement Body)> SendAsync(HttpMethod method, string path, string? json = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        using var response = await Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        var body = text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
        return ((int)response.StatusCode, body);
    }

    public Task<(int Status, JsonElement Body)> CreateVmAsync(string id, string json = "{\"cpus\":1}") => SendAsync(HttpMethod.Put, "vms/" + id, json);

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Server.DisposeAsync();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
