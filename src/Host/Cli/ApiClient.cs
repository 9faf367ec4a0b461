using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

using ActorVmm.Host.Api;

namespace ActorVmm.Host.Cli;

/// <summary>HTTP over the API's Unix socket, for the <c>actorvmm vm|fault|device</c> commands.</summary>
internal sealed class ApiClient : IDisposable
{
    private readonly HttpClient _http;

    public ApiClient(string socketPath)
    {
        SocketPath = socketPath;
        _http = UnixSocketHttp.CreateClient(socketPath, Timeout.InfiniteTimeSpan);
    }

    public string SocketPath { get; }

    /// <summary>Sends a request; the response is read to its end unless <paramref name="stream"/> (console follow).</summary>
    public Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, HttpContent? content, bool stream, CancellationToken cancellation)
    {
        var request = new HttpRequestMessage(method, path) { Content = content };
        return _http.SendAsync(request, stream ? HttpCompletionOption.ResponseHeadersRead : HttpCompletionOption.ResponseContentRead, cancellation);
    }

    public static HttpContent Json(string json) =>
        new StringContent(json, Encoding.UTF8, new MediaTypeHeaderValue("application/json"));

    /// <summary>The <c>error</c> line of an error body, or the status when the body is not one.</summary>
    public static string ErrorLine(int status, string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("error", out var error)
                && error.ValueKind == JsonValueKind.String)
            {
                return error.GetString()!;
            }
        }
        catch (JsonException)
        {
            // Not an API error body.
        }

        return $"HTTP {status}";
    }

    public void Dispose() => _http.Dispose();
}
