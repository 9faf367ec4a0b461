namespace ActorVmm.Actors.Net;

/// <summary>
/// A NIC port's counters: frames and bytes each way and drops by <see cref="NetDropReason"/>. Written with
/// interlocked adds by the port's threads, read lock-free from any thread (stats, the API).
/// </summary>
public sealed class NetPortCounters
{
    private readonly long[] _drops = new long[Enum.GetValues<NetDropReason>().Length];
    private long _txFrames;
    private long _txBytes;
    private long _rxFrames;
    private long _rxBytes;

    /// <summary>Frames the guest sent (before faults), and their bytes (virtio header included).</summary>
    public long TxFrames => Interlocked.Read(ref _txFrames);

    public long TxBytes => Interlocked.Read(ref _txBytes);

    /// <summary>Frames queued for the guest, and their bytes (virtio header included).</summary>
    public long RxFrames => Interlocked.Read(ref _rxFrames);

    public long RxBytes => Interlocked.Read(ref _rxBytes);

    /// <summary>Frames dropped for <paramref name="reason"/>.</summary>
    public long Dropped(NetDropReason reason) => Interlocked.Read(ref _drops[(int)reason]);

    /// <summary>Frames dropped for any reason.</summary>
    public long TotalDropped
    {
        get
        {
            long sum = 0;
            for (var i = 0; i < _drops.Length; i++)
            {
                sum += Interlocked.Read(ref _drops[i]);
            }

            return sum;
        }
    }

    /// <summary>Every reason with a count above zero.</summary>
    public IReadOnlyDictionary<NetDropReason, long> Drops =>
        Enum.GetValues<NetDropReason>().Select(r => (r, Dropped(r))).Where(e => e.Item2 > 0).ToDictionary(e => e.r, e => e.Item2);

    internal void CountTx(int bytes)
    {
        Interlocked.Increment(ref _txFrames);
        Interlocked.Add(ref _txBytes, bytes);
    }

    internal void CountRx(int bytes)
    {
        Interlocked.Increment(ref _rxFrames);
        Interlocked.Add(ref _rxBytes, bytes);
    }

    internal void CountDrop(NetDropReason reason) => Interlocked.Increment(ref _drops[(int)reason]);
}
