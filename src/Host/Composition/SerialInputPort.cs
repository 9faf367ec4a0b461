using ActorVmm.Actors.Endpoints;

namespace ActorVmm.Host.Composition;

/// <summary>
/// Host input for the guest console: COM1 (<c>serial0</c>), or the virtio console (hvc0) when there is one. Input
/// goes through that device's endpoint like any guest access (<see cref="DeviceEndpoint.HostInput"/>), so it reaches
/// whichever instance is live, one access at a time. Thread-safe: the stdin reader calls it from its own thread.
/// </summary>
public sealed class SerialInputPort
{
    /// <summary>The device that takes console input unless a virtio console is routed to.</summary>
    public const string SerialDevice = "serial0";

    private volatile string _target = SerialDevice;
    private volatile DeviceEndpoint? _endpoint;
    private long _dropped;

    /// <summary>Bytes dropped because no device was bound, or it was stopped, flooded or its FIFO full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Input goes to device <paramref name="name"/> (the virtio console) instead of COM1.</summary>
    internal void RouteTo(string name) => _target = name;

    /// <summary>Finds the target's endpoint among the VM's (once the bus is built).</summary>
    internal void Bind(IReadOnlyList<DeviceEndpoint> endpoints) => _endpoint = endpoints.FirstOrDefault(e => e.Name == _target);

    /// <summary>Queues host input for the guest; returns how many bytes the device accepted (or queued for it).</summary>
    public int Send(ReadOnlySpan<byte> bytes)
    {
        var accepted = _endpoint?.HostInput(bytes) ?? 0;
        if (accepted < bytes.Length)
        {
            Interlocked.Add(ref _dropped, bytes.Length - accepted);
        }

        return accepted;
    }
}
