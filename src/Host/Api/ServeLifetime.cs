using Microsoft.Extensions.Hosting;

namespace ActorVmm.Host.Api;

/// <summary>
/// A host lifetime that leaves SIGTERM and Ctrl-C alone: <c>actorvmm serve</c> handles them itself (stop the API,
/// then every VM). The default console lifetime would take the signal first and wait for a host stop that only the
/// serve command starts.
/// </summary>
internal sealed class ServeLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
