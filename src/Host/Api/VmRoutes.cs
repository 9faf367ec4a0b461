using System.Globalization;
using System.Text.RegularExpressions;
using ActorVmm.Host.Serve;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace ActorVmm.Host.Api;

/// <summary>
/// The routes of the REST API, each a plain <see cref="RequestDelegate"/> over <see cref="IVmService"/> (no
/// reflection-based binding, so the Native AOT build behaves the same). Errors are thrown as
/// <see cref="ApiException"/> or <see cref="VmServiceException"/> and answered by <see cref="ApiServer"/>.
/// </summary>
internal static partial class VmRoutes
{
    /// <summary>Bytes <c>GET /vms/{id}/console</c> returns without <c>tail</c>.</summary>
    public const int DefaultConsoleTail = 64 * 1024;

    /// <summary>Largest <c>tail</c> a console request may ask for.</summary>
    public const int MaxConsoleTail = 16 * 1024 * 1024;

    public static void Map(IEndpointRouteBuilder app, IVmService service, VmMetricsExporter metrics)
    {
        void On(string method, string pattern, Func<HttpContext, IVmService, Task> handler) =>
            app.MapMethods(pattern, [method], context => handler(context, service));

        On("GET", "/vms", (c, s) => Json(c, 200, s.List(), ApiJsonContext.Default.IReadOnlyListVmInfo));
        On("PUT", "/vms/{id}", CreateAsync);
        On("GET", "/vms/{id}", (c, s) => Json(c, 200, s.Get(Id(c)), ApiJsonContext.Default.VmInfo));
        On("DELETE", "/vms/{id}", async (c, s) =>
        {
            await s.DeleteAsync(Id(c), c.RequestAborted);
            c.Response.StatusCode = 204;
        });
        On("POST", "/vms/{id}/start", async (c, s) => await Json(c, 200, await s.StartAsync(Id(c), c.RequestAborted), ApiJsonContext.Default.VmInfo));
        On("POST", "/vms/{id}/pause", async (c, s) => await Json(c, 200, await s.PauseAsync(Id(c), c.RequestAborted), ApiJsonContext.Default.VmInfo));
        On("POST", "/vms/{id}/resume", async (c, s) => await Json(c, 200, await s.ResumeAsync(Id(c), c.RequestAborted), ApiJsonContext.Default.VmInfo));
        On("POST", "/vms/{id}/stop", async (c, s) => await Json(c, 200, await s.StopAsync(Id(c), StopTimeout(c), c.RequestAborted), ApiJsonContext.Default.VmInfo));
        On("POST", "/vms/{id}/kill", async (c, s) => await Json(c, 200, await s.KillAsync(Id(c), c.RequestAborted), ApiJsonContext.Default.VmInfo));
        On("POST", "/vms/{id}/snapshot", SnapshotAsync);

        On("GET", "/vms/{id}/devices", (c, s) => Json(c, 200, s.Devices(Id(c)), ApiJsonContext.Default.IReadOnlyListDeviceInfo));
        On("POST", "/vms/{id}/devices/{name}/crash", async (c, s) =>
        {
            await s.CrashDeviceAsync(Id(c), Route(c, "name"), c.RequestAborted);
            c.Response.StatusCode = 202;
        });
        On("GET", "/vms/{id}/faults", (c, s) => Json(c, 200, s.Faults(Id(c)), ApiJsonContext.Default.IReadOnlyListFaultInfo));
        On("POST", "/vms/{id}/faults", AddFaultAsync);
        On("DELETE", "/vms/{id}/faults/{fid}", (c, s) =>
        {
            s.RemoveFault(Id(c), Route(c, "fid"));
            c.Response.StatusCode = 204;
            return Task.CompletedTask;
        });

        On("GET", "/switches", (c, s) => Json(c, 200, s.Switches(), ApiJsonContext.Default.IReadOnlyListSwitchInfo));
        On("GET", "/vms/{id}/stats", (c, s) => Json(c, 200, s.Stats(Id(c)), ApiJsonContext.Default.VmStatsInfo));
        On("POST", "/vms/{id}/trace", StartTraceAsync);
        On("DELETE", "/vms/{id}/trace", async (c, s) =>
        {
            await s.StopTraceAsync(Id(c), c.RequestAborted);
            c.Response.StatusCode = 204;
        });

        On("GET", "/vms/{id}/console", ConsoleAsync);
        On("POST", "/vms/{id}/console", async (c, s) =>
        {
            var bytes = await RequestBody.ReadBytesAsync(c.Request, c.RequestAborted);
            s.SendConsoleInput(Id(c), bytes);
            c.Response.StatusCode = 204;
        });

        On("GET", "/metrics", async (c, _) =>
        {
            c.Response.ContentType = VmMetricsExporter.ContentType;
            await metrics.WriteAsync(c.Response.Body, c.RequestAborted);
        });
    }

    /// <summary>Ids: a letter or digit, then letters, digits, '.', '_' or '-'; at most 64 characters.</summary>
    public static bool IsValidId(string id) => IdPattern().IsMatch(id);

    private static async Task CreateAsync(HttpContext context, IVmService service)
    {
        var id = Id(context);
        if (!IsValidId(id))
        {
            throw new ApiException(400, $"bad VM id '{Printable(id)}': use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit");
        }

        var json = await RequestBody.ReadObjectTextAsync(context.Request, context.RequestAborted);
        var vm = await service.CreateAsync(id, json, context.RequestAborted);
        context.Response.Headers.Location = "/vms/" + Uri.EscapeDataString(vm.Id);
        await Json(context, 201, vm, ApiJsonContext.Default.VmInfo);
    }

    private static async Task AddFaultAsync(HttpContext context, IVmService service)
    {
        using var body = await RequestBody.ReadObjectAsync(context.Request, context.RequestAborted);
        var spec = RequestBody.String(body, "spec", required: true)!;
        var fault = service.AddFault(Id(context), spec);
        await Json(context, 201, fault, ApiJsonContext.Default.FaultInfo);
    }

    /// <summary><c>{"dir": "..."}</c>: a new or empty directory (the server's path) for the snapshot of a paused VM.</summary>
    private static async Task SnapshotAsync(HttpContext context, IVmService service)
    {
        using var body = await RequestBody.ReadObjectAsync(context.Request, context.RequestAborted);
        var dir = RequestBody.String(body, "dir", required: true)!;
        if (dir.Length == 0)
        {
            throw new ApiException(400, "dir must not be empty");
        }

        var snapshot = await service.SnapshotAsync(Id(context), dir, context.RequestAborted);
        await Json(context, 200, snapshot, ApiJsonContext.Default.SnapshotInfo);
    }

    private static async Task StartTraceAsync(HttpContext context, IVmService service)
    {
        using var body = await RequestBody.ReadObjectAsync(context.Request, context.RequestAborted);
        var file = RequestBody.String(body, "file", required: true)!;
        var format = RequestBody.String(body, "format", required: false);
        await service.StartTraceAsync(Id(context), file, format, context.RequestAborted);
        context.Response.StatusCode = 204;
    }

    /// <summary>
    /// <c>?tail=N</c>: the last N bytes. <c>?follow=true</c>: those, then everything the guest writes, streamed
    /// until the VM stops or the client goes away (the subscription is disposed either way).
    /// </summary>
    private static async Task ConsoleAsync(HttpContext context, IVmService service)
    {
        var follow = Flag(context, "follow");
        var tail = Int(context, "tail", 0, MaxConsoleTail) ?? (follow ? 0 : DefaultConsoleTail);
        var id = Id(context);
        context.Response.ContentType = "application/octet-stream";
        if (!follow)
        {
            var bytes = service.ConsoleTail(id, tail);
            context.Response.ContentLength = bytes.Length;
            await context.Response.Body.WriteAsync(bytes, context.RequestAborted);
            return;
        }

        // Ends when the client goes away or the server stops (so shutdown does not wait for followers).
        var stopping = context.RequestServices.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, stopping);
        var cancellation = linked.Token;
        using var subscription = service.AttachConsole(id, tail);
        using var detach = cancellation.Register(subscription.Dispose);
        context.Response.Headers.CacheControl = "no-cache";
        await context.Response.StartAsync(cancellation);
        await context.Response.Body.FlushAsync(cancellation); // the headers go now, before any output
        try
        {
            var output = subscription.Output;
            while (await output.WaitToReadAsync(cancellation))
            {
                while (output.TryRead(out var chunk))
                {
                    await context.Response.Body.WriteAsync(chunk, cancellation);
                }

                await context.Response.Body.FlushAsync(cancellation);
            }
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            // The client went away or the server is stopping.
        }
    }

    private static TimeSpan? StopTimeout(HttpContext context)
    {
        if (context.Request.Query["timeout"] is not { Count: > 0 } values)
        {
            return null;
        }

        if (!double.TryParse(values[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) || !double.IsFinite(seconds) || seconds < 0 || seconds > 86400)
        {
            throw new ApiException(400, $"timeout must be a number of seconds from 0 to 86400: '{Printable(values[0] ?? string.Empty)}'");
        }

        return TimeSpan.FromSeconds(seconds);
    }

    private static int? Int(HttpContext context, string name, int min, int max)
    {
        if (context.Request.Query[name] is not { Count: > 0 } values)
        {
            return null;
        }

        if (!int.TryParse(values[0], NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            throw new ApiException(400, $"{name} must be an integer from {min} to {max}: '{Printable(values[0] ?? string.Empty)}'");
        }

        return value;
    }

    private static bool Flag(HttpContext context, string name)
    {
        if (context.Request.Query[name] is not { Count: > 0 } values)
        {
            return false;
        }

        return values[0] switch
        {
            "true" or "1" or "" => true,
            "false" or "0" => false,
            var other => throw new ApiException(400, $"{name} must be true or false: '{Printable(other ?? string.Empty)}'"),
        };
    }

    private static string Id(HttpContext context) => Route(context, "id");

    private static string Route(HttpContext context, string name) => (string)context.Request.RouteValues[name]!;

    private static Task Json<T>(HttpContext context, int status, T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
    {
        context.Response.StatusCode = status;
        return context.Response.WriteAsJsonAsync(value, type, contentType: null, context.RequestAborted);
    }

    /// <summary>Echoed user text, cut short and without control characters, so an error stays one line.</summary>
    internal static string Printable(string text)
    {
        var cut = text.Length > 80 ? text[..80] + "..." : text;
        return string.Create(cut.Length, cut, (span, source) =>
        {
            for (var i = 0; i < source.Length; i++)
            {
                span[i] = char.IsControl(source[i]) ? '?' : source[i];
            }
        });
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex IdPattern();
}
