using ActorVmm.Devices.Legacy;
using ActorVmm.Actors.Virtio;

namespace ActorVmm.Host.Composition;

/// <summary>Where a machine's serial ports write; index 0 is COM1 (ttyS0). A null entry leaves the port unconnected.</summary>
public sealed record VmIo(IReadOnlyList<SerialOutput?> SerialOutputs)
{
    public static readonly VmIo Disconnected = new([]);

    /// <summary>Where the virtio console (hvc0) writes, when the VM has one (<c>--console virtio</c>); null drops its output.</summary>
    public SerialOutput? VirtioConsole { get; init; }

    /// <summary>The networks the VM's NICs connect to (the process's switches, TAPs); null: a VM with NICs is refused.</summary>
    public HostNetworks? Networks { get; init; }

    public SerialOutput? Serial(int index) => index < SerialOutputs.Count ? SerialOutputs[index] : null;
}
