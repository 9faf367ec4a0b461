using ActorVmm.Actors.Endpoints;
using ActorVmm.Devices.Pci;
using ActorVmm.Devices.Virtio;

namespace ActorVmm.Actors.Virtio;

/// <summary>
/// The PCI bus's stable view of one virtio-pci function. Configuration cycles (0xCF8/0xCFC) go through the device's
/// endpoint like every other access: one at a time with its register accesses, and, while the device restarts,
/// queued until its state is restored (they never reach a power-on instance that the restore then overwrites).
/// Before the endpoint is bound the function reads as absent (all-ones).
/// </summary>
public sealed class VirtioPciSlot : IPciDevice
{
    private readonly PciConfiguration _routing;
    private volatile DeviceEndpoint? _endpoint;
    private long _barMoves;

    /// <param name="name">Device name.</param>
    /// <param name="irq">The GSI its INTA# is wired to (read by <see cref="PciRoot.AddDevice"/> for the MP table).</param>
    public VirtioPciSlot(string name, byte irq)
    {
        Name = name;
        _routing = new PciConfiguration(0xFFFF, 0xFFFF, 0) { InterruptPin = 1, InterruptLine = irq };
    }

    public string Name { get; }

    /// <summary>The wiring the VMM chose (interrupt pin and line), for the MP table; the guest's view goes through the endpoint.</summary>
    public PciConfiguration Configuration => _routing;

    /// <summary>Times the guest programmed BAR 0 to a new address. Such moves are not followed (see <see cref="PciDevices"/>).</summary>
    public long BarMoves => Interlocked.Read(ref _barMoves);

    /// <summary>What the function's queues completed, across every instance (restarts included).</summary>
    public VirtqueueTraffic Traffic { get; } = new();

    /// <summary>Config cycles go to <paramref name="endpoint"/> (the device's own) from now on.</summary>
    public void Bind(DeviceEndpoint endpoint) => _endpoint = endpoint;

    /// <summary>A new instance was built (factory, restarts included): its BAR moves are counted here.</summary>
    public void Attach(VirtioPciDevice device) =>
        device.Configuration.BarMoved += _ => Interlocked.Increment(ref _barMoves);

    public void ReadConfig(int offset, Span<byte> data)
    {
        var endpoint = _endpoint;
        if (endpoint is null)
        {
            data.Fill(0xFF);
            return;
        }

        endpoint.ReadConfig(offset, data);
    }

    public void WriteConfig(int offset, ReadOnlySpan<byte> data) => _endpoint?.WriteConfig(offset, data);
}
