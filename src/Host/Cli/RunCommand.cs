using ActorVmm.Actors.Faults;
using ActorVmm.Host.GuestConsole;
using ActorVmm.Actors.Logging;
using ActorVmm.Host.Logging;
using ActorVmm.Actors.Settings;
using ActorVmm.Host.Settings;
using ActorVmm.Actors.Vcpu;
using ActorVmm.Devices.Legacy;
using ActorVmm.Kvm;
using Akka.Actor;
using ActorVmm.Actors.Virtio;

using ActorVmm.Host.Composition;
using ActorVmm.Host.Serve;

namespace ActorVmm.Host.Cli;

/// <summary>
/// The <c>actorvmm run</c> runner: one actor system, one x86-64 VM on /dev/kvm, COM1 wired to the settings' host
/// end — or the virtio console (hvc0) with <c>--console virtio</c> — (stdin in raw mode when it is a terminal), until the guest stops or the host cancels.
/// </summary>
public static class RunCommand
{
    /// <summary>Runs the VM; returns the process exit code. Problems building it are one line on <paramref name="stderr"/>.</summary>
    public static async Task<int> RunAsync(ActorVmmSettings settings, CancellationToken cancellation, TextWriter? stderr = null)
    {
        var error = stderr ?? System.Console.Error;
        // The default guest without a script runs nothing: on a terminal it runs a shell instead.
        settings = settings with { Vm = DefaultGuest.WithShellOnTerminal(settings.Vm, !System.Console.IsInputRedirected) };
        using var quit = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        var outputs = new List<ConsoleOutput>();
        try
        {
            var serialOutputs = new List<SerialOutput?>();
            foreach (var spec in new[] { settings.Vm.Serial, settings.Vm.Com2, settings.Vm.Com3, settings.Vm.Com4 })
            {
                if (spec.Kind == SerialSpecKind.None || (serialOutputs.Count == 0 && settings.Vm.Console != ConsoleDevice.Serial))
                {
                    serialOutputs.Add(null);
                    continue;
                }

                var output = ConsoleOutput.Open(spec);
                outputs.Add(output);
                serialOutputs.Add(output.Write);
            }

            SerialOutput? virtioConsole = null;
            if (settings.Vm.Console == ConsoleDevice.Virtio && settings.Vm.Serial.Kind != SerialSpecKind.None)
            {
                var output = ConsoleOutput.Open(settings.Vm.Serial);
                outputs.Add(output);
                virtioConsole = output.Write;
            }

            StartupProbe.Mark("settings and console");
            // The actor system starts on another thread while this one builds the machine (both take a while cold).
            // Created from a Config, not an ActorSystemSetup: Akka then skips its app.config lookup (System.Configuration,
            // XML), and the Serilog logger actor logs to Serilog.Log.Logger, which is this process's logger anyway.
            var systemStarting = Task.Run(() => ActorSystem.Create("actorvmm", AkkaConfig.Build(settings)));
            using var networks = new HostNetworks(systemStarting, settings.Switches);
            StdinReader? stdin = null;
            try
            {
                var run = await VmRunner.RunWithReportAsync(
                    systemStarting,
                    settings,
                    new VmIo(serialOutputs) { VirtioConsole = virtioConsole, Networks = networks },
                    port =>
                    {
                        // The port forwards to COM1 or, with --console virtio, to hvc0.
                        if (settings.Vm.Serial.Kind == SerialSpecKind.Stdio && !System.Console.IsInputRedirected)
                        {
                            stdin = StdinReader.StartStdin(bytes => port.Send(bytes.Span), quit.Cancel, quit.Token);
                        }
                    },
                    quit.Token).ConfigureAwait(false);
                var reason = run.Reason;
                stdin?.Dispose();
                foreach (var output in outputs)
                {
                    await output.FlushAsync().ConfigureAwait(false);
                }

                var faultSummary = FaultSummary.Format(run.Machine.Faults.Counters, run.Devices);
                if (faultSummary.Length > 0)
                {
                    error.Write(faultSummary);
                }

                if (settings.Tracing.Stats)
                {
                    foreach (var nic in VmService.NetCountersOf(run.Machine))
                    {
                        var drops = string.Join(", ", nic.Drops.Select(d => $"{d.Key} {d.Value}"));
                        error.WriteLine(
                            $"{nic.Name} {nic.Mac} on {nic.Link}: tx {nic.TxFrames} frames {nic.TxBytes} bytes, rx {nic.RxFrames} frames {nic.RxBytes} bytes, dropped {nic.Dropped}{(drops.Length > 0 ? $" ({drops})" : string.Empty)}, link dropped {nic.LinkDropped}{(nic.LinkError is null ? string.Empty : $"; {nic.LinkError}")}");
                    }
                }

                if (reason.ExitCode != 0)
                {
                    error.WriteLine($"actorvmm: the VM stopped: {reason}");
                }

                return reason.ExitCode;
            }
            finally
            {
                stdin?.Dispose();
                await TerminateAsync(systemStarting).ConfigureAwait(false);
            }
        }
        catch (KvmUnavailableException e)
        {
            error.WriteLine($"actorvmm: {e.Message}");
            return 1;
        }
        catch (VmBuildException e)
        {
            error.WriteLine($"actorvmm: {e.Message}");
            return 2;
        }
        finally
        {
            foreach (var output in outputs)
            {
                await output.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private static async Task TerminateAsync(Task<ActorSystem> systemStarting)
    {
        try
        {
            await systemStarting.ConfigureAwait(false);
        }
        catch
        {
            // It never started: nothing to stop (the launcher reported why).
            return;
        }

        await systemStarting.Result.Terminate().ConfigureAwait(false);
    }
}
