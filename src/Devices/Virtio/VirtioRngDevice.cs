using System.Security.Cryptography;
using ActorVmm.Kvm.Memory;

namespace ActorVmm.Devices.Virtio;

/// <summary>
/// virtio-rng (device id 4): one request queue whose writable buffers are filled from
/// <see cref="RandomNumberGenerator"/>. With a rate limit, a request gets only what the token bucket holds (at
/// least one byte); when the bucket is empty the request waits and a timer asks for processing once it refills.
/// </summary>
public sealed class VirtioRngDevice : IVirtioDevice, IDisposable
{
    private const int MaxChunk = 64 * 1024;

    private readonly TokenBucket? _bucket;
    private readonly TimeProvider _time;
    private readonly Lock _timerSync = new();
    private volatile VirtioContext? _context;
    private ITimer? _timer;
    private long _bytesServed;

    /// <param name="bytesPerSecond">Rate limit; 0 means unlimited.</param>
    /// <param name="burstBytes">Bucket capacity (default: one second's worth).</param>
    /// <param name="time">Clock and timers (default <see cref="TimeProvider.System"/>).</param>
    public VirtioRngDevice(long bytesPerSecond = 0, long? burstBytes = null, TimeProvider? time = null, ushort queueSize = 256)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytesPerSecond);
        _time = time ?? TimeProvider.System;
        if (bytesPerSecond > 0)
        {
            _bucket = new TokenBucket(bytesPerSecond, burstBytes ?? bytesPerSecond, _time);
        }

        MaxQueueSize = queueSize;
    }

    public ushort DeviceType => VirtioDeviceType.Rng;

    public ulong AvailableFeatures => VirtioFeatures.TransportDefault;

    public int QueueCount => 1;

    public ushort MaxQueueSize { get; }

    public int ConfigSize => 0;

    /// <summary>Random bytes handed to the guest so far.</summary>
    public long BytesServed => Interlocked.Read(ref _bytesServed);

    public void ReadConfig(ulong offset, Span<byte> data) => data.Clear();

    public void WriteConfig(ulong offset, ReadOnlySpan<byte> data)
    {
    }

    public void Activate(VirtioContext context) => _context = context;

    public bool ProcessQueue(int index, Virtqueue queue, GuestMemory memory)
    {
        var added = false;
        var buffer = new byte[MaxChunk];
        for (var budget = queue.Size; budget > 0; budget--)
        {
            var chain = queue.TryPop(memory);
            if (chain is null)
            {
                break;
            }

            if (chain.WritableLength == 0)
            {
                queue.ReportGuestError("virtio-rng request has no writable buffer");
                queue.AddUsed(memory, chain.HeadIndex, 0);
                added = true;
                continue;
            }

            var wanted = (long)Math.Min(chain.WritableLength, MaxChunk);
            var granted = _bucket?.Take(wanted) ?? wanted;
            if (granted == 0)
            {
                queue.UndoPop();
                ScheduleRetry();
                break;
            }

            var span = buffer.AsSpan(0, (int)granted);
            RandomNumberGenerator.Fill(span);
            var written = chain.Write(memory, 0, span);
            Interlocked.Add(ref _bytesServed, written);
            queue.AddUsed(memory, chain.HeadIndex, (uint)written);
            added = true;
        }

        return added;
    }

    public void Reset()
    {
        _context = null;
        CancelTimer();
    }

    public object? SaveDeviceState() => null;

    public void RestoreDeviceState(object? state)
    {
    }

    public void Dispose() => Reset();

    private void ScheduleRetry()
    {
        lock (_timerSync)
        {
            if (_timer is not null || _bucket is null)
            {
                return;
            }

            var delay = _bucket.TimeUntilAvailable();
            _timer = _time.CreateTimer(_ => OnRefilled(), null, delay < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : delay, Timeout.InfiniteTimeSpan);
        }
    }

    private void OnRefilled()
    {
        CancelTimer();
        _context?.RequestProcessing(0);
    }

    private void CancelTimer()
    {
        lock (_timerSync)
        {
            _timer?.Dispose();
            _timer = null;
        }
    }
}
