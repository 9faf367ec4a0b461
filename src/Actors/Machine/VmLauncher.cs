using ActorVmm.Actors.Settings;
using ActorVmm.Actors.Vm;
using Akka.Actor;

namespace ActorVmm.Actors.Machine;

/// <summary>Builds an x86-64 VM from settings, runs it as a <see cref="VmActor"/> and waits for its stop reason.</summary>
public static class VmLauncher
{
    /// <summary>
    /// Runs one VM to its end. <paramref name="onStarted"/> gets the console input port once the VM actor exists
    /// (wire stdin to it). Cancelling <paramref name="cancellation"/> stops the VM cleanly (host request).
    /// </summary>
    /// <exception cref="MachineException">The VM could not be built (one-line message).</exception>
    public static async Task<VmStopReason> RunAsync(
        ActorSystem system,
        ActorVmmSettings settings,
        MachineIo io,
        Action<SerialInputPort>? onStarted = null,
        CancellationToken cancellation = default,
        string vmName = "vm0")
    {
        ArgumentNullException.ThrowIfNull(system);
        var machine = X86MachineBuilder.Build(settings, io, vmName);
        VmHandle handle;
        try
        {
            handle = VmActor.Spawn(system, machine.Blueprint, vmName);
        }
        catch
        {
            machine.Blueprint.Resources?.Dispose();
            throw;
        }

        onStarted?.Invoke(machine.Console);
        await using var registration = cancellation.Register(() => handle.RequestStop("stopped by the host (interrupt)"));
        return await handle.Stopped.ConfigureAwait(false);
    }
}
