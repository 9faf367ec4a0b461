namespace ActorVmm.Devices.Pci;

/// <summary>The host bridge at 00:00.0 (class 0x0600), so guests' type-1 sanity checks find a bridge.</summary>
public sealed class PciHostBridge : IPciDevice
{
    public const ushort DefaultVendorId = 0x8086;
    public const ushort DefaultDeviceId = 0x0d57;
    public const uint HostBridgeClass = 0x06_00_00;

    private readonly Lock _sync = new();

    public PciHostBridge(ushort vendorId = DefaultVendorId, ushort deviceId = DefaultDeviceId)
    {
        Configuration = new PciConfiguration(vendorId, deviceId, HostBridgeClass);
    }

    public string Name => "pci-host-bridge";

    public PciConfiguration Configuration { get; }

    public void ReadConfig(int offset, Span<byte> data)
    {
        lock (_sync)
        {
            Configuration.Read(offset, data);
        }
    }

    public void WriteConfig(int offset, ReadOnlySpan<byte> data)
    {
        lock (_sync)
        {
            Configuration.Write(offset, data);
        }
    }
}
