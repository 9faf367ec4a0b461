using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;

namespace ActorVmm.Vmm.Tests.Support;

/// <summary>
/// The Native AOT <c>actorvmm</c> (artifacts/actorvmm/actorvmm) as a child process: its stdout and stderr captured,
/// and for <c>serve --api-sock PATH</c> an HTTP client on that socket. Disposing kills it (and its socket's file).
/// </summary>
public sealed class ServedProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly StringBuilder _errors = new();
    private readonly string? _socket;
    private HttpClient? _http;

    private ServedProcess(Process process, string? socket)
    {
        _process = process;
        _socket = socket;
    }

    public static string Executable => Path.Combine(Checkout.Root(), "artifacts", "actorvmm", "actorvmm");

    public int Id => _process.Id;

    /// <summary>stdout so far (the guest's COM1 for <c>run --serial stdio</c>).</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>The last few KiB of stdout and stderr, for failure messages.</summary>
    public string Tail
    {
        get
        {
            string errors;
            lock (_errors)
            {
                errors = _errors.ToString();
            }

            var output = Output;
            return $"stderr: {(errors.Length <= 3000 ? errors : errors[^3000..])}\nstdout: {(output.Length <= 3000 ? output : output[^3000..])}";
        }
    }

    public HttpClient Http => _http ?? throw new InvalidOperationException("not a serve process");

    public static ServedProcess Start(params string[] args)
    {
        Assert.True(File.Exists(Executable), $"{Executable} is missing: tools/setup.sh publishes it");
        var psi = new ProcessStartInfo(Executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        var socketAt = Array.IndexOf(args, "--api-sock");
        var served = new ServedProcess(Process.Start(psi)!, socketAt >= 0 ? args[socketAt + 1] : null);
        served._process.StandardInput.Close();
        served._process.OutputDataReceived += (_, e) => Append(served._output, e.Data);
        served._process.ErrorDataReceived += (_, e) => Append(served._errors, e.Data);
        served._process.BeginOutputReadLine();
        served._process.BeginErrorReadLine();
        if (served._socket is not null)
        {
            served._http = ActorVmm.Host.Api.UnixSocketHttp.CreateClient(served._socket, TimeSpan.FromMinutes(3));
        }

        return served;
    }

    public async Task WaitForSocketAsync()
    {
        Assert.True(await ProcessCounts.EventuallyAsync(() => File.Exists(_socket) || _process.HasExited, TimeSpan.FromSeconds(60)), "the server never listened");
        Assert.False(_process.HasExited, $"serve exited: {Tail}");
    }

    /// <summary>The response's JSON (default for an empty body) once its status is <paramref name="status"/>; fails naming the request otherwise.</summary>
    public async Task<JsonElement> ExpectAsync(HttpStatusCode status, HttpResponseMessage response)
    {
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == status,
                $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri}: {(int)response.StatusCode} {body}; {Tail}");
            return body.Length == 0 ? default : JsonDocument.Parse(body).RootElement.Clone();
        }
    }

    /// <summary>A JSON request body.</summary>
    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    public Task<string> ConsoleAsync(string id) => Http.GetStringAsync($"vms/{id}/console?tail=65536");

    public async ValueTask DisposeAsync()
    {
        _http?.Dispose();
        _http = null;
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }
        catch (InvalidOperationException)
        {
        }

        if (_socket is not null)
        {
            File.Delete(_socket);
        }
    }

    private static void Append(StringBuilder target, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (target)
        {
            target.AppendLine(line);
        }
    }
}
