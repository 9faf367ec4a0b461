using ActorVmm.Devices.Legacy;

namespace ActorVmm.Actors.Machine;

/// <summary>
/// Host input for a guest serial port. The device behind it is rebuilt on a supervised restart, so this follows
/// whichever instance is current. Thread-safe: the stdin reader calls it from its own thread.
/// </summary>
public sealed class SerialInputPort
{
    private volatile Serial16550? _current;

    /// <summary>Bytes dropped because no device was attached or its FIFO was full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    private long _dropped;

    internal void Attach(Serial16550 device) => _current = device;

    /// <summary>Queues host input for the guest; returns how many bytes the device accepted.</summary>
    public int Send(ReadOnlySpan<byte> bytes)
    {
        var device = _current;
        var accepted = device?.EnqueueInput(bytes) ?? 0;
        if (accepted < bytes.Length)
        {
            Interlocked.Add(ref _dropped, bytes.Length - accepted);
        }

        return accepted;
    }
}
