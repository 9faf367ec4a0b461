using ActorVmm.Host.Api;
using ActorVmm.Host.Serve;
using ActorVmm.Host.Settings;

namespace ActorVmm.Host.Cli;

/// <summary>
/// <c>actorvmm serve --api-sock PATH</c>: hosts VMs behind the REST API until SIGTERM or Ctrl-C, then stops the
/// listener, disposes the service (which stops every VM: <see cref="IAsyncDisposable"/> or <see cref="IDisposable"/>
/// on the service) and removes the socket file. A socket path that exists is refused (exit 2) and left alone.
/// </summary>
public static class ServeCommand
{
    /// <param name="socketPath">Where the API listens; must not exist.</param>
    /// <param name="defaults">The VM defaults (reference.conf, <c>--config</c>, options) and logging.</param>
    /// <param name="serviceFactory">Creates the service from the defaults.</param>
    /// <param name="log">The process's logger (stderr, as <c>run</c>).</param>
    /// <param name="error">Where one-line errors go.</param>
    /// <param name="stop">Cancelled by SIGTERM/Ctrl-C.</param>
    /// <param name="started">Called once the API listens (tests wait for it).</param>
    public static async Task<int> RunAsync(
        string socketPath,
        ServeDefaults defaults,
        Func<ServeDefaults, IVmService> serviceFactory,
        Serilog.ILogger log,
        TextWriter error,
        CancellationToken stop,
        Action<ApiServer>? started = null)
    {
        if (ApiServer.PathExists(socketPath))
        {
            error.WriteLine($"actorvmm: {socketPath} already exists (remove it if no server uses it)");
            return CliApp.ExitBadInput;
        }

        IVmService service;
        try
        {
            service = serviceFactory(defaults);
        }
        catch (VmServiceException e)
        {
            error.WriteLine($"actorvmm: {SettingsLoader.FirstLine(e.Message)}");
            return CliApp.ExitBadInput;
        }

        try
        {
            ApiServer server;
            try
            {
                server = await ApiServer.StartAsync(service, socketPath, log, stop);
            }
            catch (ApiSocketException e)
            {
                error.WriteLine($"actorvmm: {e.Message}");
                return CliApp.ExitBadInput;
            }

            await using (server)
            {
                started?.Invoke(server);
                try
                {
                    await Task.Delay(Timeout.Infinite, stop);
                }
                catch (OperationCanceledException)
                {
                    log.Information("Stopping: the API closes, then every VM stops");
                }
            }

            return 0;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return 0;
        }
        finally
        {
            await DisposeAsync(service, log);
        }
    }

    private static async Task DisposeAsync(IVmService service, Serilog.ILogger log)
    {
        try
        {
            switch (service)
            {
                case IAsyncDisposable asyncDisposable:
                    await asyncDisposable.DisposeAsync();
                    break;
                case IDisposable disposable:
                    disposable.Dispose();
                    break;
            }
        }
        catch (Exception e)
        {
            log.Error(e, "Stopping the VMs failed");
        }
    }
}
