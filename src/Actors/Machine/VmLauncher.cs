using ActorVmm.Actors.Bus;
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
        catch (Exception ex)
        {
            machine.Blueprint.Resources?.Dispose();
            if (ex is BusConflictException or ArgumentException)
            {
                throw new MachineException(ex.Message, ex);
            }

            throw;
        }

        if (machine.Notifiers.Count > 0)
        {
            // The bus is built with the VM actor; queue kicks go through it to the device endpoints.
            try
            {
                var status = await handle.Actor.Ask<VmProtocol.Status>(VmProtocol.GetStatus.Instance, TimeSpan.FromSeconds(30))
                    .ConfigureAwait(false);
                machine.Notifiers.Start(status.Bus);
            }
            catch (Exception ex) when (ex is AskTimeoutException or TaskCanceledException)
            {
                // The VM stopped before it answered: nothing to notify.
            }
        }

        onStarted?.Invoke(machine.Console);
        await using var registration = cancellation.Register(() => handle.RequestStop("stopped by the host (interrupt)"));
        return await handle.Stopped.ConfigureAwait(false);
    }
}
