namespace ActorVmm.Devices.Pci;

/// <summary>
/// PCI bus 0 (single-function devices only): the host bridge at device 0 and up to 31 more devices. Config reads
/// of an empty slot, another bus or a function other than 0 return all-ones; writes to them are dropped.
/// Thread-safe.
/// </summary>
public sealed class PciRoot
{
    public const int MaxDevices = 32;

    private readonly IPciDevice?[] _devices = new IPciDevice?[MaxDevices];
    private readonly List<PciInterruptRoute> _routes = [];
    private readonly Lock _sync = new();

    public PciRoot(IPciDevice? hostBridge = null)
    {
        _devices[0] = hostBridge ?? new PciHostBridge();
    }

    /// <summary>INTx wiring of every device that has an interrupt pin: (device number, pin, IRQ) for the MP table.</summary>
    public IReadOnlyList<PciInterruptRoute> InterruptRoutes
    {
        get
        {
            lock (_sync)
            {
                return _routes.ToArray();
            }
        }
    }

    /// <summary>
    /// Puts <paramref name="device"/> in the lowest free slot (or <paramref name="deviceNumber"/>) and returns its
    /// device number. Its INTx route is taken from its configuration's interrupt pin and line as set now.
    /// </summary>
    public int AddDevice(IPciDevice device, int? deviceNumber = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        lock (_sync)
        {
            int slot;
            if (deviceNumber is { } wanted)
            {
                if (wanted is < 1 or >= MaxDevices || _devices[wanted] is not null)
                {
                    throw new ArgumentException($"PCI device number {wanted} is not free", nameof(deviceNumber));
                }

                slot = wanted;
            }
            else
            {
                slot = Array.FindIndex(_devices, d => d is null);
                if (slot < 0)
                {
                    throw new InvalidOperationException("PCI bus 0 is full");
                }
            }

            _devices[slot] = device;
            var pin = device.Configuration.InterruptPin;
            if (pin != 0)
            {
                _routes.Add(new PciInterruptRoute(slot, pin, device.Configuration.InterruptLine));
            }

            return slot;
        }
    }

    public IPciDevice? GetDevice(int deviceNumber)
    {
        lock (_sync)
        {
            return deviceNumber is >= 0 and < MaxDevices ? _devices[deviceNumber] : null;
        }
    }

    public void ReadConfig(int bus, int device, int function, int offset, Span<byte> data)
    {
        var target = Find(bus, device, function);
        if (target is null)
        {
            data.Fill(0xFF);
            return;
        }

        target.ReadConfig(offset, data);
    }

    public void WriteConfig(int bus, int device, int function, int offset, ReadOnlySpan<byte> data)
    {
        Find(bus, device, function)?.WriteConfig(offset, data);
    }

    private IPciDevice? Find(int bus, int device, int function) =>
        bus == 0 && function == 0 ? GetDevice(device) : null;
}
