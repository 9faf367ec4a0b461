using ActorVmm.Devices.Legacy;
using ActorVmm.Devices.Virtio;
using ActorVmm.Actors.Virtio;

namespace ActorVmm.Host.Composition;

/// <summary>
/// Host input for the guest console: COM1, or the virtio console (hvc0) when there is one. The device behind it is
/// rebuilt on a supervised restart, so this follows whichever instance is current. Thread-safe: the stdin reader
/// calls it from its own thread.
/// </summary>
public sealed class SerialInputPort
{
    private volatile Serial16550? _current;
    private volatile VirtioConsoleDevice? _virtio;

    /// <summary>Bytes dropped because no device was attached or its FIFO was full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    private long _dropped;

    internal void Attach(Serial16550 device) => _current = device;

    /// <summary>From now on input goes to the virtio console (its receive queue buffers up to 1 MiB).</summary>
    internal void Attach(VirtioConsoleDevice device) => _virtio = device;

    /// <summary>Queues host input for the guest; returns how many bytes the device accepted.</summary>
    public int Send(ReadOnlySpan<byte> bytes)
    {
        var virtio = _virtio;
        if (virtio is not null)
        {
            var dropped = virtio.DroppedInputBytes;
            virtio.EnqueueInput(bytes);
            var lost = (int)Math.Min(bytes.Length, virtio.DroppedInputBytes - dropped);
            Interlocked.Add(ref _dropped, lost);
            return bytes.Length - lost;
        }

        var device = _current;
        var accepted = device?.EnqueueInput(bytes) ?? 0;
        if (accepted < bytes.Length)
        {
            Interlocked.Add(ref _dropped, bytes.Length - accepted);
        }

        return accepted;
    }
}
