using System.Net.Sockets;
using ActorVmm.Host.Serve;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ActorVmm.Host.Api;

/// <summary>
/// The REST API of <c>actorvmm serve</c>: Kestrel listening on a Unix socket (mode 0600) in front of an
/// <see cref="IVmService"/>. Every 4xx/5xx answer is <c>{"error":"one line"}</c>: a <see cref="VmServiceException"/>
/// with its status, an unknown route 404, a wrong method 405, a body over 64 KiB 413, an unexpected exception 500
/// (logged; the server keeps serving). Disposing stops the listener and removes the socket file; the service is the
/// caller's.
/// </summary>
public sealed class ApiServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string _socketPath;
    private int _stopped;

    private ApiServer(WebApplication app, string socketPath)
    {
        _app = app;
        _socketPath = socketPath;
    }

    public string SocketPath => _socketPath;

    /// <summary>
    /// Listens on <paramref name="socketPath"/>, which must not exist (an existing file is never replaced).
    /// </summary>
    /// <exception cref="ApiSocketException">The path exists or cannot be listened on.</exception>
    public static async Task<ApiServer> StartAsync(IVmService service, string socketPath, Serilog.ILogger log, CancellationToken cancellation = default)
    {
        if (PathExists(socketPath))
        {
            throw new ApiSocketException($"{socketPath} already exists (remove it if no server uses it)");
        }

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ApplicationName = "actorvmm" });
        builder.Logging.ClearProviders();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(2));
        builder.Services.AddSingleton<IHostLifetime, ServeLifetime>();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = RequestBody.MaxBytes;
            kestrel.ListenUnixSocket(socketPath);
        });

        var app = builder.Build();
        var metrics = new VmMetricsExporter(service);
        app.UseStatusCodePages(WriteStatusCodeError);
        app.Use((context, next) => HandleErrorsAsync(context, next, log));
        VmRoutes.Map(app, service, metrics);

        try
        {
            await app.StartAsync(cancellation);
        }
        catch (Exception e) when (e is IOException or SocketException or UnauthorizedAccessException)
        {
            await app.DisposeAsync();
            throw new ApiSocketException($"cannot listen on {socketPath}: {RequestBody.FirstLine(e.Message)}");
        }

        // Kestrel binds with the process umask; only this user may connect.
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(socketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        log.Information("API listening on {Socket}", socketPath);
        return new ApiServer(app, socketPath);
    }

    /// <summary>Stops listening (requests still running get a moment, then are aborted) and removes the socket file.</summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        using (var grace = new CancellationTokenSource(TimeSpan.FromSeconds(2)))
        {
            await _app.StopAsync(grace.Token);
        }

        await _app.DisposeAsync();
        try
        {
            File.Delete(_socketPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Leaving a stale socket behind is all that can go wrong here.
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    /// <summary>True for anything at <paramref name="path"/>, a dangling symbolic link included.</summary>
    public static bool PathExists(string path)
    {
        var info = new FileInfo(path);
        return info.Exists || Directory.Exists(path) || info.LinkTarget is not null;
    }

    private static async Task HandleErrorsAsync(HttpContext context, RequestDelegate next, Serilog.ILogger log)
    {
        try
        {
            await next(context);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away: nobody to answer.
        }
        catch (VmServiceException e)
        {
            await WriteErrorAsync(context, e.Status, e.Message);
        }
        catch (ApiException e)
        {
            await WriteErrorAsync(context, e.Status, e.Message);
        }
        catch (BadHttpRequestException e)
        {
            await WriteErrorAsync(context, e.StatusCode, e.StatusCode == 413 ? $"request body over {RequestBody.MaxBytes} bytes" : e.Message);
        }
        catch (Exception e) when (context.RequestAborted.IsCancellationRequested)
        {
            log.Debug(e, "{Method} {Path}: the client went away", context.Request.Method, context.Request.Path.Value);
        }
        catch (Exception e)
        {
            log.Error(e, "{Method} {Path} failed", context.Request.Method, context.Request.Path.Value);
            await WriteErrorAsync(context, 500, $"internal error: {e.GetType().Name}: {e.Message}");
        }
    }

    private static async Task WriteErrorAsync(HttpContext context, int status, string message)
    {
        if (context.Response.HasStarted)
        {
            // Headers are gone (a console stream): cut the response short.
            context.Abort();
            return;
        }

        context.Response.Clear();
        context.Response.StatusCode = status;
        await context.Response.WriteAsJsonAsync(new ApiError(RequestBody.FirstLine(message)), ApiJsonContext.Default.ApiError, contentType: null, CancellationToken.None);
    }

    private static Task WriteStatusCodeError(StatusCodeContext status)
    {
        var context = status.HttpContext;
        var message = context.Response.StatusCode switch
        {
            404 => $"no such route: {context.Request.Method} {VmRoutes.Printable(context.Request.Path.Value ?? "/")}",
            405 => $"method {context.Request.Method} not allowed on {VmRoutes.Printable(context.Request.Path.Value ?? "/")}",
            var code => $"HTTP {code}",
        };
        return context.Response.WriteAsJsonAsync(new ApiError(message), ApiJsonContext.Default.ApiError, contentType: null, context.RequestAborted);
    }
}

/// <summary>The API socket path exists already or cannot be listened on.</summary>
public sealed class ApiSocketException(string message) : Exception(message);
