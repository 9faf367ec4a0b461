using ActorVmm.Actors.Bus;
using ActorVmm.Actors.Irq;
using ActorVmm.Actors.Settings;
using ActorVmm.Devices;
using ActorVmm.Kvm;
using ActorVmm.Kvm.Linux;

namespace ActorVmm.Actors.Vm;

/// <summary>What a device factory gets: its name, its interrupt line (when it asked for one), and the VM's controls.</summary>
public sealed record DeviceContext(string Name, IInterruptLine? Interrupt, IVmControl Vm);

/// <summary>
/// One device of a VM. <paramref name="Factory"/> builds a power-on instance; it is called again on each supervised
/// restart (with the same context: same interrupt line, same VM controls).
/// </summary>
/// <param name="Name">Unique in the VM; logs, traces, supervision (<c>serial0</c>, <c>disk0</c>).</param>
/// <param name="Factory">Builds the device model.</param>
/// <param name="Ranges">Where it sits on the PIO/MMIO buses (offsets passed to the device are relative to each range).</param>
/// <param name="Irq">The interrupt line it wants, if any.</param>
/// <param name="Inline">False for device models that may block in Read/Write: every access then goes through the actor (read timeout applies).</param>
public sealed record DeviceBlueprint(
    string Name,
    Func<DeviceContext, IBusDevice> Factory,
    IReadOnlyList<BusRange> Ranges,
    IrqRequest? Irq = null,
    bool Inline = true)
{
    /// <summary>What the device is (<c>serial</c>, <c>virtio-blk</c>...), shown as <see cref="Endpoints.DeviceEndpoint.Kind"/>; null: not said.</summary>
    public string? Kind { get; init; }

    /// <summary>State from a snapshot the first instance starts from (instead of power-on); null: power-on.</summary>
    public object? RestoreState { get; init; }
}

/// <summary>
/// Everything a <see cref="VmActor"/> builds and owns. The VM actor disposes <paramref name="Resources"/> (guest
/// memory, VM and vCPU fds, ...) once every vCPU thread has stopped and the device and IRQ actors are gone.
/// </summary>
/// <param name="Name">VM name (logs).</param>
/// <param name="Vcpus">One <see cref="IVcpu"/> per vCPU, configured and ready to run.</param>
/// <param name="Devices">The devices and their bus ranges and interrupt lines.</param>
/// <param name="Irq">The interrupt controller backend (<see cref="KvmIrqChip"/> or <see cref="InMemoryIrqChip"/>).</param>
/// <param name="DeviceSettings">Read timeout.</param>
/// <param name="Supervision">Decider table, restart budget, restart state, budget policy.</param>
/// <param name="OnStopped">Called once, on the VM actor's thread, with the stop reason (after resources are disposed).</param>
/// <param name="Resources">Disposed after the vCPUs stopped.</param>
public sealed record VmBlueprint(
    string Name,
    IReadOnlyList<IVcpu> Vcpus,
    IReadOnlyList<DeviceBlueprint> Devices,
    IIrqChipBackend Irq,
    DeviceSettings DeviceSettings,
    SupervisionSettings Supervision,
    Action<VmStopReason>? OnStopped = null,
    IDisposable? Resources = null)
{
    /// <summary>How long stopping waits for the vCPU threads before giving up (resources are then NOT disposed).</summary>
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Exit statistics and tracing (<see cref="Tracing.TracingSetup.Create"/>); null: off. The VM actor hands each
    /// vCPU its <see cref="Tracing.VcpuTracer"/>, reports interrupts, device faults and restarts to it; whoever made
    /// it reads its statistics and completes it after the VM stopped (<see cref="Tracing.TracingSetup.FinishAsync"/>).
    /// </summary>
    public Tracing.VmTracer? Tracer { get; init; }

    /// <summary>Exits per kind of all vCPUs, counted always (tracing or not); readable from any thread.</summary>
    public Vcpu.ExitCounters ExitCounters { get; init; } = new();

    /// <summary>
    /// Called on the VM actor's thread when a tracer is attached (<see cref="VmProtocol.StartTracing"/>: the new
    /// one, before the reply) or detached (<see cref="VmProtocol.StopTracing"/>: null, before the vCPUs let go of
    /// it), e.g. to point the fault injector's hook at it.
    /// </summary>
    public Action<Tracing.VmTracer?>? OnTracerChanged { get; init; }

    /// <summary>The bus, built by whoever built the blueprint; null: <see cref="VmActor.Props"/> builds it.</summary>
    public VmBus? Bus { get; init; }

    /// <summary>Called on the VM actor's thread once every device actor runs, before the vCPUs start (e.g. to start queue notifiers).</summary>
    public Action<VmBus>? OnDevicesStarted { get; init; }

    /// <summary>Host CPUs for the vCPU threads: vCPU i is pinned to the (i mod count)-th of the list; null: not pinned.</summary>
    public CpuSet? VcpuCpus { get; init; }

    /// <summary>The vCPUs start parked: the VM comes up <see cref="VmState.Paused"/> and runs on <see cref="VmProtocol.Resume"/>.</summary>
    public bool StartPaused { get; init; }

    /// <summary>KVM VM, RAM, settings and disks for <see cref="VmProtocol.Snapshot"/>; null: this VM cannot be snapshotted.</summary>
    public VmMachine? Machine { get; init; }
}
