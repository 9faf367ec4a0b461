using System.Buffers.Binary;
using ActorVmm.Kvm.Memory;

namespace ActorVmm.Devices.Virtio;

/// <summary>
/// virtio-console (device id 3), a single port without MULTIPORT: queue 0 (receiveq) carries host input to the
/// guest, queue 1 (transmitq) guest output to <c>output</c>. Host input is buffered (bounded) by the thread-safe
/// <see cref="EnqueueInput"/> until the guest posts receive buffers.
/// </summary>
public sealed class VirtioConsoleDevice : IVirtioDevice
{
    public const int ReceiveQueue = 0;
    public const int TransmitQueue = 1;

    /// <summary>Host input kept while the guest has no receive buffers; beyond it input is dropped and counted.</summary>
    public const int MaxPendingInput = 1 << 20;

    private const int ConfigLength = 12;

    private readonly Action<byte[]> _output;
    private readonly Queue<byte> _input = new();
    private readonly Lock _inputSync = new();
    private volatile VirtioContext? _context;
    private long _droppedInput;

    /// <param name="output">Receives each chunk the guest transmits (called on the processing thread).</param>
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

    /// <summary>Input bytes dropped because <see cref="MaxPendingInput"/> was reached.</summary>
    public long DroppedInputBytes => Interlocked.Read(ref _droppedInput);

    public int PendingInputBytes
    {
        get
        {
            lock (_inputSync)
            {
                return _input.Count;
            }
        }
    }

    /// <summary>Queues host input for the guest; safe from any thread. Asks the transport to serve the receiveq.</summary>
    public void EnqueueInput(ReadOnlySpan<byte> data)
    {
        lock (_inputSync)
        {
            foreach (var b in data)
            {
                if (_input.Count >= MaxPendingInput)
                {
                    Interlocked.Increment(ref _droppedInput);
                    continue;
                }

                _input.Enqueue(b);
            }
        }

        _context?.RequestProcessing(ReceiveQueue);
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

    /// <summary>The pending host input (so none is lost across a restart).</summary>
    public object? SaveDeviceState()
    {
        lock (_inputSync)
        {
            return _input.ToArray();
        }
    }

    public void RestoreDeviceState(object? state)
    {
        lock (_inputSync)
        {
            _input.Clear();
            if (state is byte[] pending)
            {
                foreach (var b in pending)
                {
                    _input.Enqueue(b);
                }
            }
        }
    }

    private bool Receive(Virtqueue queue, GuestMemory memory)
    {
        var added = false;
        for (var budget = queue.Size; budget > 0; budget--)
        {
            byte[] chunk;
            lock (_inputSync)
            {
                if (_input.Count == 0)
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

                chunk = new byte[(int)Math.Min((ulong)_input.Count, chain.WritableLength)];
                for (var i = 0; i < chunk.Length; i++)
                {
                    chunk[i] = _input.Dequeue();
                }

                var written = chain.Write(memory, 0, chunk);
                queue.AddUsed(memory, chain.HeadIndex, (uint)written);
                added = true;
            }
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

            var data = new byte[chain.ReadableLength];
            var read = chain.Read(memory, 0, data);
            if (read > 0)
            {
                _output(read == data.Length ? data : data[..read]);
            }

            queue.AddUsed(memory, chain.HeadIndex, 0);
            added = true;
        }

        return added;
    }
}
