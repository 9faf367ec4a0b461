namespace ActorVmm.Devices.Virtio;

/// <summary>
/// What a virtio device's queues completed: chains (requests) and the bytes the device wrote into the guest's
/// buffers (the used length). One per device slot, shared by every incarnation of the device, so supervised
/// restarts do not reset it. Written by one queue pass at a time per queue, read from any thread.
/// </summary>
public sealed class VirtqueueTraffic
{
    private long _chains;
    private long _bytes;

    public long Chains => Interlocked.Read(ref _chains);

    public long Bytes => Interlocked.Read(ref _bytes);

    public void Count(uint writtenLength)
    {
        Interlocked.Increment(ref _chains);
        Interlocked.Add(ref _bytes, writtenLength);
    }
}
