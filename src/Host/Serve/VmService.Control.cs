using ActorVmm.Actors.Vm;

namespace ActorVmm.Host.Serve;

public sealed partial class VmService
{
    /// <summary>How long a pause, resume or tracer switch may take (every vCPU must confirm; slow nested).</summary>
    public static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(30);

    /// <summary>What the i8042 takes from the host as "press Ctrl-Alt-Del" (<c>I8042.HostCtrlAltDel</c>).</summary>
    private const byte CtrlAltDel = 0x01;

    /// <summary>What the ACPI PM device takes from the host as "press the power button" (<c>AcpiPmDevice.HostPowerButton</c>).</summary>
    private const byte PowerButton = 0x01;

    public Task<VmInfo> PauseAsync(string id, CancellationToken cancellation = default) => WithGate(id, async vm =>
    {
        RequireState(vm, VmStates.Running, "pause");
        await CommandAsync(vm, "pause", h => h.PauseAsync(CommandTimeout)).ConfigureAwait(false);
        vm.TryTransition(VmStates.Running, VmStates.Paused);
        return vm.Info;
    });

    public Task<VmInfo> ResumeAsync(string id, CancellationToken cancellation = default) => WithGate(id, async vm =>
    {
        RequireState(vm, VmStates.Paused, "resume");
        await CommandAsync(vm, "resume", h => h.ResumeAsync(CommandTimeout)).ConfigureAwait(false);
        vm.TryTransition(VmStates.Paused, VmStates.Running);
        return vm.Info;
    });

    public Task<VmInfo> StopAsync(string id, TimeSpan? timeout = null, CancellationToken cancellation = default) => WithGate(id, async vm =>
    {
        RequireStarted(vm, "stop");
        var wait = timeout ?? DefaultStopTimeout;
        if (wait < TimeSpan.Zero)
        {
            throw VmServiceException.BadRequest($"timeout must be 0 or more seconds: {wait.TotalSeconds}");
        }

        if (vm.State == VmStates.Paused)
        {
            // The guest must run to see the key press.
            await CommandAsync(vm, "resume", h => h.ResumeAsync(CommandTimeout)).ConfigureAwait(false);
            vm.TryTransition(VmStates.Paused, VmStates.Running);
        }

        // The ACPI power button when the guest has a driver for it (it enabled the event), else Ctrl-Alt-Del.
        var key = "the power button";
        var pressed = await PressPowerButtonAsync(vm).ConfigureAwait(false);
        if (!pressed)
        {
            key = "Ctrl-Alt-Del";
            pressed = vm.Endpoints.FirstOrDefault(e => e.Name == "i8042")?.HostInput([CtrlAltDel]) == 1;
        }

        if (pressed)
        {
            try
            {
                return await vm.Stopped.WaitAsync(wait, CancellationToken.None).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // Forced below.
            }
        }

        var why = pressed
            ? $"stopped by the host: the guest did not stop within {wait.TotalSeconds:0.#} s of {key}"
            : "stopped by the host: the guest took neither the power button nor Ctrl-Alt-Del";
        vm.Handle!.RequestStop(why);
        return await vm.Stopped.ConfigureAwait(false);
    });

    /// <summary>
    /// Presses the ACPI power button when the acpi-pm device is free (a queued press could not say whether the guest
    /// handles it); a device busy for a whole second counts as not pressed, and Ctrl-Alt-Del follows.
    /// </summary>
    private static async Task<bool> PressPowerButtonAsync(ServedVm vm)
    {
        var endpoint = vm.Endpoints.FirstOrDefault(e => e.Name == "acpi-pm");
        for (var attempt = 0; endpoint is not null && attempt < 100; attempt++)
        {
            if (endpoint.HostInputNow([PowerButton]) is { } accepted)
            {
                return accepted == 1;
            }

            await Task.Delay(10).ConfigureAwait(false);
        }

        return false;
    }

    public Task CrashDeviceAsync(string id, string device, CancellationToken cancellation = default)
    {
        var vm = Find(id);
        var endpoint = vm.Endpoint(device);
        RequireStarted(vm, $"crash {device} of");
        if (!endpoint.Crash("crashed through the API"))
        {
            throw VmServiceException.Conflict($"{device} of VM {id} is {DeviceKinds.StateOf(endpoint)}: it has no running instance to crash");
        }

        return Task.CompletedTask;
    }

    private static async Task CommandAsync(ServedVm vm, string what, Func<VmHandle, Task> command)
    {
        try
        {
            await command(vm.Handle!).ConfigureAwait(false);
        }
        catch (VmStateException e)
        {
            throw VmServiceException.Conflict($"VM {vm.Id}: {e.Message}");
        }
        catch (Exception e) when (e is TimeoutException or Akka.Actor.AskTimeoutException or TaskCanceledException)
        {
            throw new VmServiceException(504, $"VM {vm.Id}: {what} did not complete within {CommandTimeout.TotalSeconds:0} s");
        }
    }

    private static void RequireState(ServedVm vm, string state, string action)
    {
        if (vm.State != state)
        {
            throw VmServiceException.Conflict($"VM {vm.Id} is {vm.State}: only a {state} VM can {action}");
        }
    }
}
