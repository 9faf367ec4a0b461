using ActorVmm.Actors;
using Akka.Event;
using ActorVmm.Actors.Bus;
using ActorVmm.Actors.Endpoints;
using ActorVmm.Actors.Faults;
using ActorVmm.Actors.Settings;
using ActorVmm.Host.Settings;
using ActorVmm.Actors.Tracing;
using ActorVmm.Host.Tracing;
using ActorVmm.Actors.Vcpu;
using ActorVmm.Actors.Vm;
using Akka.Actor;
using ActorVmm.Actors.Virtio;

namespace ActorVmm.Host.Composition;

/// <summary>How a VM run ended, and what it leaves to report (fault counters, device restarts and failures).</summary>
public sealed record VmRunResult(VmStopReason Reason, BuiltVm Machine, IReadOnlyList<DeviceEndpoint> Devices);

/// <summary>Builds an x86-64 VM from settings, runs it as a <see cref="VmActor"/> and waits for its stop reason.</summary>
public static class VmRunner
{
    /// <summary>
    /// Runs one VM to its end. <paramref name="onStarted"/> gets the console input port once the VM actor exists
    /// (wire stdin to it). Cancelling <paramref name="cancellation"/> stops the VM cleanly (host request).
    /// </summary>
    /// <exception cref="VmBuildException">The VM could not be built (one-line message).</exception>
    public static async Task<VmStopReason> RunAsync(
        ActorSystem system,
        ActorVmmSettings settings,
        VmIo io,
        Action<SerialInputPort>? onStarted = null,
        CancellationToken cancellation = default,
        string vmName = "vm0") =>
        (await RunWithReportAsync(system, settings, io, onStarted, cancellation, vmName).ConfigureAwait(false)).Reason;

    /// <summary>As <see cref="RunAsync"/>, with what the run leaves to report: the machine (fault counters) and its device endpoints.</summary>
    public static Task<VmRunResult> RunWithReportAsync(
        ActorSystem system,
        ActorVmmSettings settings,
        VmIo io,
        Action<SerialInputPort>? onStarted = null,
        CancellationToken cancellation = default,
        string vmName = "vm0")
    {
        ArgumentNullException.ThrowIfNull(system);
        return RunWithReportAsync(Task.FromResult(system), settings, io, onStarted, cancellation, vmName);
    }

    /// <summary>
    /// As <see cref="RunAsync"/>, with an actor system still being created: the machine (KVM VM, guest memory, kernel
    /// load, devices) is built while it starts, which takes the actor system's start-up off the way to the first KVM_RUN.
    /// </summary>
    public static async Task<VmRunResult> RunWithReportAsync(
        Task<ActorSystem> systemStarting,
        ActorVmmSettings settings,
        VmIo io,
        Action<SerialInputPort>? onStarted = null,
        CancellationToken cancellation = default,
        string vmName = "vm0")
    {
        ArgumentNullException.ThrowIfNull(systemStarting);
        var machine = VmBuilder.Build(settings, io, vmName);
        StartupProbe.Mark("machine built");
        ActorSystem system;
        try
        {
            system = await systemStarting.ConfigureAwait(false);
        }
        catch
        {
            machine.Blueprint.Resources?.Dispose();
            throw;
        }

        StartupProbe.Mark("actor system");
        VmTracer? tracer;
        try
        {
            // Statistics (--stats) and the trace file (--trace); null when both are off: one null check per exit.
            tracer = TracingSetup.Create(settings.Tracing, vmName);
            if (tracer is not null)
            {
                // Each injected fault is a trace event too (restarts and failures come through the endpoints).
                machine.Faults.FaultObserved = (device, kind) => tracer.Fault(device, FaultPlan.KindName(kind));
            }
        }
        catch
        {
            machine.Blueprint.Resources?.Dispose();
            throw;
        }

        VmHandle handle;
        try
        {
            handle = Spawn(system, machine, tracer, vmName);
        }
        catch
        {
            machine.Blueprint.Resources?.Dispose();
            if (tracer is not null)
            {
                await tracer.CompleteAsync().ConfigureAwait(false);
            }

            throw;
        }

        onStarted?.Invoke(machine.Console);
        await using var registration = cancellation.Register(() => handle.RequestStop("stopped by the host (interrupt)"));
        var reason = await handle.Stopped.ConfigureAwait(false);
        await TracingSetup.FinishAsync(tracer, settings.Tracing).ConfigureAwait(false);
        return new VmRunResult(reason, machine, machine.Blueprint.Bus?.Endpoints ?? []);
    }

    /// <summary>
    /// Starts a built machine as a <see cref="VmActor"/> under <paramref name="system"/>, its fault and queue-worker
    /// logs wired to Akka's logging. On failure the caller still owns the machine's resources.
    /// </summary>
    public static VmHandle Spawn(ActorSystem system, BuiltVm machine, VmTracer? tracer, string vmName, string? actorName = null)
    {
        machine.Faults.Log = Akka.Event.Logging.GetLogger(system, $"{vmName}/faults");
        var workersLog = Akka.Event.Logging.GetLogger(system, $"{vmName}/queues");
        machine.Workers.AbandonedWorkers += count => workersLog.Warning(
            "{Count} queue worker(s) still inside a host I/O after {Wait}: left to finish; guest RAM stays mapped until they do",
            count,
            QueueWorkers.StopWait);
        if (machine.SoftwareKvm is { } backend)
        {
            Akka.Event.Logging.GetLogger(system, vmName).Warning(
                "/dev/kvm is served by {Backend}, not VT-x or AMD-V: a stock Linux kernel stalls in early boot under it; tools/nested/run-in-kvm.sh runs the VMM in the nested runner instead",
                backend);
        }

        // A tracer attached or detached at run time (the API) gets the injected faults as well.
        var faults = machine.Faults;
        return VmActor.Spawn(
            system,
            machine.Blueprint with
            {
                Tracer = tracer,
                OnTracerChanged = attached => faults.FaultObserved = attached is null
                    ? null
                    : (device, kind) => attached.Fault(device, FaultPlan.KindName(kind)),
            },
            actorName ?? vmName);
    }
}
