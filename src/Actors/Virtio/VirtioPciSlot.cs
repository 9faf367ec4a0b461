using ActorVmm.Devices.Pci;
using ActorVmm.Devices.Virtio;

namespace ActorVmm.Actors.Virtio;

/// <summary>
/// The PCI bus's stable view of one virtio-pci function. The device actor's factory rebuilds the
/// <see cref="VirtioPciDevice"/> on a supervised restart; the slot follows whichever instance is current, so
/// configuration cycles (0xCF8/0xCFC) reach the live one. Before the first instance exists the function reads as
/// absent (all-ones). Thread-safe: the device serialises its own configuration accesses.
/// </summary>
internal sealed class VirtioPciSlot : IPciDevice
{
    private readonly PciConfiguration _routing;
    private volatile VirtioPciDevice? _current;

    /// <param name="name">Device name.</param>
    /// <param name="irq">The GSI its INTA# is wired to (read by <see cref="PciRoot.AddDevice"/> for the MP table).</param>
    public VirtioPciSlot(string name, byte irq)
    {
        Name = name;
        _routing = new PciConfiguration(0xFFFF, 0xFFFF, 0) { InterruptPin = 1, InterruptLine = irq };
    }

    public string Name { get; }

    /// <summary>The current instance, or null before the device actor first started.</summary>
    public VirtioPciDevice? Current => _current;

    public PciConfiguration Configuration => _current?.Configuration ?? _routing;

    /// <summary>Times the guest programmed BAR 0 to a new address. Such moves are not followed (see <see cref="PciDevices"/>).</summary>
    public long BarMoves => Interlocked.Read(ref _barMoves);

    private long _barMoves;

    public void Attach(VirtioPciDevice device)
    {
        device.Configuration.BarMoved += _ => Interlocked.Increment(ref _barMoves);
        _current = device;
    }

    public void ReadConfig(int offset, Span<byte> data)
    {
        var device = _current;
        if (device is null)
        {
            data.Fill(0xFF);
            return;
        }

        device.ReadConfig(offset, data);
    }

    public void WriteConfig(int offset, ReadOnlySpan<byte> data) => _current?.WriteConfig(offset, data);
}
