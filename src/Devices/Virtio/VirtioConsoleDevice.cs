using System.Buffers.Binary;
using System.Collections.Concurrent;
using ActorVmm.Kvm.Memory;

namespace ActorVmm.Devices.Virtio;

/// <summary>
/// virtio-console (device id 3), a single port without MULTIPORT: queue 0 (receiveq) carries host input to the
/// guest, queue 1 (transmitq) guest output to <c>output</c>. Host input (<see cref="EnqueueInput"/>, called through the
/// device's endpoint) is buffered, at most <see cref="MaxPendingInput"/> bytes, until the receive queue's worker finds
/// buffers for it: a lock-free hand-over, since the endpoint and the worker are different threads. Transmitted data
/// goes to the sink in chunks of at most <see cref="MaxOutputChunk"/> bytes, so a huge chain costs no huge copy.
/// </summary>
public sealed class VirtioConsoleDevice : IVirtioDevice, IHostInput
{
    public const int ReceiveQueue = 0;
    public const int TransmitQueue = 1;

    /// <summary>Host input held for the guest; more is dropped and counted.</summary>
    public const int MaxPendingInput = 1 << 20;

    /// <summary>Largest piece of guest output copied and handed to the sink at once.</summary>
    public const int MaxOutputChunk = 64 << 10;

    private const int ConfigLength = 12;

    private readonly Action<byte[]> _output;
    private readonly ConcurrentQueue<byte[]> _input = new();
    private byte[]? _partial;
    private int _partialOffset;
    private long _pendingInput;
    private volatile VirtioContext? _context;
    private long _droppedInput;

    /// <param name="output">Receives each chunk the guest transmits (called on the transmit queue's worker).</param>
    public VirtioConsoleDevice(Action<byte[]> output, ushort queueSize = 256)
    {
        ArgumentNullException.ThrowIfNull(output);
        _output = output;
        MaxQueueSize = queueSize;
    }

    public ushort DeviceType => VirtioDeviceType.Console;

    public ulong AvailableFeatures => VirtioFeatures.TransportDefault;

    public int QueueCount => 2;

    public ushort MaxQueueSize { get; }

    public int ConfigSize => ConfigLength;

    public long DroppedInputBytes => Interlocked.Read(ref _droppedInput);

    public int PendingInputBytes => (int)Interlocked.Read(ref _pendingInput);

    /// <summary>Queues host input (bounded: the excess is dropped and counted) and asks for a receive pass.</summary>
    public void EnqueueInput(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        var room = MaxPendingInput - Interlocked.Read(ref _pendingInput);
        var take = (int)Math.Clamp(room, 0, data.Length);
        if (take < data.Length)
        {
            Interlocked.Add(ref _droppedInput, data.Length - take);
        }

        if (take > 0)
        {
            Interlocked.Add(ref _pendingInput, take);
            _input.Enqueue(data[..take].ToArray());
        }

        _context?.RequestProcessing(ReceiveQueue);
    }

    int IHostInput.AcceptInput(ReadOnlySpan<byte> input)
    {
        var dropped = DroppedInputBytes;
        EnqueueInput(input);
        return input.Length - (int)Math.Min(input.Length, DroppedInputBytes - dropped);
    }

    public void ReadConfig(ulong offset, Span<byte> data)
    {
        // cols, rows (VIRTIO_CONSOLE_F_SIZE not offered) zero; max_nr_ports 1 (ignored without MULTIPORT); emerg_wr zero.
        Span<byte> config = stackalloc byte[ConfigLength];
        config.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(config[4..], 1);
        config.Slice((int)offset, data.Length).CopyTo(data);
    }

    public void WriteConfig(ulong offset, ReadOnlySpan<byte> data)
    {
        // emerg_wr needs VIRTIO_CONSOLE_F_EMERG_WRITE, which is not offered.
    }

    public void Activate(VirtioContext context) => _context = context;

    public bool ProcessQueue(int index, Virtqueue queue, GuestMemory memory) => index switch
    {
        ReceiveQueue => Receive(queue, memory),
        TransmitQueue => Transmit(queue, memory),
        _ => false,
    };

    public void Reset() => _context = null;

    /// <summary>Pending input, as one array (called with no pass running).</summary>
    public object? SaveDeviceState()
    {
        var pending = new List<byte>();
        if (_partial is not null)
        {
            pending.AddRange(_partial.AsSpan(_partialOffset).ToArray());
        }

        foreach (var chunk in _input)
        {
            pending.AddRange(chunk);
        }

        return pending.ToArray();
    }

    public void RestoreDeviceState(object? state)
    {
        _input.Clear();
        _partial = null;
        _partialOffset = 0;
        Interlocked.Exchange(ref _pendingInput, 0);
        if (state is byte[] { Length: > 0 } pending)
        {
            var kept = pending.AsSpan(0, Math.Min(pending.Length, MaxPendingInput)).ToArray();
            _input.Enqueue(kept);
            Interlocked.Exchange(ref _pendingInput, kept.Length);
        }
    }

    private bool Receive(Virtqueue queue, GuestMemory memory)
    {
        var added = false;
        for (var budget = queue.Size; budget > 0; budget--)
        {
            if (_partial is null && !_input.TryDequeue(out _partial))
            {
                break;
            }

            var chain = queue.TryPop(memory);
            if (chain is null)
            {
                break;
            }

            if (chain.WritableLength == 0)
            {
                queue.ReportGuestError("virtio-console receive buffer is not writable");
                queue.AddUsed(memory, chain.HeadIndex, 0);
                added = true;
                continue;
            }

            // Fill the buffer from as many queued chunks as fit.
            ulong written = 0;
            while (_partial is not null && written < chain.WritableLength)
            {
                var rest = _partial.AsSpan(_partialOffset);
                var n = (int)Math.Min((ulong)rest.Length, chain.WritableLength - written);
                var copied = chain.Write(memory, written, rest[..n]);
                written += (ulong)copied;
                _partialOffset += copied;
                Interlocked.Add(ref _pendingInput, -copied);
                if (_partialOffset == _partial.Length)
                {
                    _partial = _input.TryDequeue(out var next) ? next : null;
                    _partialOffset = 0;
                }

                if (copied < n)
                {
                    break;
                }
            }

            queue.AddUsed(memory, chain.HeadIndex, (uint)written);
            added = true;
        }

        return added;
    }

    private bool Transmit(Virtqueue queue, GuestMemory memory)
    {
        var added = false;
        for (var budget = queue.Size; budget > 0; budget--)
        {
            var chain = queue.TryPop(memory);
            if (chain is null)
            {
                break;
            }

            // In pieces: the guest picks the chain's length (up to the queue's per-chain bound).
            for (ulong offset = 0; offset < chain.ReadableLength;)
            {
                var piece = new byte[(int)Math.Min((ulong)MaxOutputChunk, chain.ReadableLength - offset)];
                var read = chain.Read(memory, offset, piece);
                if (read <= 0)
                {
                    break;
                }

                _output(read == piece.Length ? piece : piece[..read]);
                offset += (ulong)read;
            }

            queue.AddUsed(memory, chain.HeadIndex, 0);
            added = true;
        }

        return added;
    }
}
