namespace ActorVmm.Host.Serve;

public sealed partial class VmService
{
    public Task<VmInfo> PauseAsync(string id, CancellationToken cancellation = default) => WithGate(id, vm =>
    {
        RequireStarted(vm, "pause");
        throw new VmServiceException(501, "pause: not wired yet");
    });

    public Task<VmInfo> ResumeAsync(string id, CancellationToken cancellation = default) => WithGate(id, vm =>
    {
        RequireStarted(vm, "resume");
        throw new VmServiceException(501, "resume: not wired yet");
    });

    public Task<VmInfo> StopAsync(string id, TimeSpan? timeout = null, CancellationToken cancellation = default) => WithGate(id, async vm =>
    {
        RequireStarted(vm, "stop");
        var wait = timeout ?? DefaultStopTimeout;
        // TODO(wire): press Ctrl-Alt-Del through the i8042 once it can.
        try
        {
            return await vm.Stopped.WaitAsync(wait, CancellationToken.None).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            vm.Handle!.RequestStop($"stopped by the host: the guest did not power off within {wait.TotalSeconds:0.#} s of Ctrl-Alt-Del");
            return await vm.Stopped.ConfigureAwait(false);
        }
    });
}
