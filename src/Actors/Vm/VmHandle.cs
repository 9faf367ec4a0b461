using ActorVmm.Actors.Tracing;
using Akka.Actor;

namespace ActorVmm.Actors.Vm;

/// <summary>A started VM: its actor and a task completing with its stop reason (after its resources are disposed).</summary>
public sealed record VmHandle(IActorRef Actor, Task<VmStopReason> Stopped)
{
    /// <summary>Asks the VM to stop (host request).</summary>
    public void RequestStop(string why = "stopped by the host") =>
        Actor.Tell(new VmProtocol.Stop(new VmStopReason(VmStopReasonKind.HostRequest, why)));

    /// <summary>Pauses every vCPU; completes once all are parked (at once when already paused).</summary>
    /// <exception cref="VmStateException">The VM is not running (still building, stopping, stopped).</exception>
    public Task PauseAsync(TimeSpan timeout) => AskAsync<VmProtocol.Paused>(VmProtocol.Pause.Instance, timeout);

    /// <summary>Lets a paused VM run again (completes at once when it runs).</summary>
    /// <exception cref="VmStateException">The VM is neither paused nor running.</exception>
    public Task ResumeAsync(TimeSpan timeout) => AskAsync<VmProtocol.Resumed>(VmProtocol.Resume.Instance, timeout);

    /// <summary>Attaches <paramref name="tracer"/> (see <see cref="VmProtocol.StartTracing"/>).</summary>
    /// <exception cref="VmStateException">A tracer is already attached, or the VM is neither running nor paused.</exception>
    public Task StartTracingAsync(VmTracer tracer, TimeSpan timeout) =>
        AskAsync<VmProtocol.TracingStarted>(new VmProtocol.StartTracing(tracer), timeout);

    /// <summary>Detaches the tracer and returns it, for the caller to complete (<see cref="TracingSetup.FinishAsync"/>).</summary>
    /// <exception cref="VmStateException">No tracer is attached, or the VM is neither running nor paused.</exception>
    public async Task<VmTracer> StopTracingAsync(TimeSpan timeout) =>
        (await AskAsync<VmProtocol.TracingStopped>(VmProtocol.StopTracing.Instance, timeout).ConfigureAwait(false)).Detached;

    /// <summary>Writes a snapshot of the paused VM into <paramref name="directory"/> (created; an existing one must be empty).</summary>
    /// <exception cref="VmStateException">The VM is not paused (or has no KVM machine).</exception>
    /// <exception cref="IOException">The snapshot could not be written (the message says why; nothing is left behind).</exception>
    public async Task<VmSnapshotResult> SnapshotAsync(string directory, CancellationToken cancellation = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        timeout.CancelAfter(SnapshotTimeout);
        var reply = await AskAsync<object>(new VmProtocol.Snapshot(Path.GetFullPath(directory)), Timeout.InfiniteTimeSpan, timeout.Token)
            .ConfigureAwait(false);
        return reply switch
        {
            VmProtocol.SnapshotTaken taken => taken.Result,
            VmProtocol.SnapshotFailed failed => throw new IOException(failed.Reason),
            _ => throw new InvalidOperationException($"VM {Actor.Path.Name}: unexpected reply {reply}"),
        };
    }

    /// <summary>How long <see cref="SnapshotAsync"/> waits at most (RAM is written on the VM actor's thread).</summary>
    public static TimeSpan SnapshotTimeout { get; } = TimeSpan.FromMinutes(5);

    private Task<T> AskAsync<T>(object command, TimeSpan timeout) => AskAsync<T>(command, timeout, CancellationToken.None);

    private async Task<T> AskAsync<T>(object command, TimeSpan timeout, CancellationToken cancellation)
    {
        if (Stopped.IsCompleted)
        {
            throw new VmStateException($"VM {Actor.Path.Name} has stopped", VmState.Stopped);
        }

        object reply;
        try
        {
            reply = await Actor.Ask<object>(command, timeout == Timeout.InfiniteTimeSpan ? null : timeout, cancellation).ConfigureAwait(false);
        }
        catch (AskTimeoutException) when (Stopped.IsCompleted)
        {
            throw new VmStateException($"VM {Actor.Path.Name} has stopped", VmState.Stopped);
        }

        return reply switch
        {
            VmProtocol.Failed failed => throw new VmStateException(failed.Reason, failed.State),
            T ok => ok,
            _ => throw new InvalidOperationException($"VM {Actor.Path.Name}: unexpected reply {reply}"),
        };
    }
}
