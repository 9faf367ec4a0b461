namespace ActorVmm.Devices.Legacy;

/// <summary>The UART's receive FIFO: a fixed ring of bytes. Not thread-safe: the serial device guards it.</summary>
internal sealed class SerialInputFifo
{
    private readonly byte[] _bytes;
    private int _head;
    private int _count;

    public SerialInputFifo(int capacity) => _bytes = new byte[capacity];

    public int Capacity => _bytes.Length;

    public int Count => _count;

    /// <summary>Appends what fits of <paramref name="input"/>; returns how many bytes were taken.</summary>
    public int Push(ReadOnlySpan<byte> input)
    {
        var accepted = 0;
        foreach (var b in input)
        {
            if (_count == _bytes.Length)
            {
                break;
            }

            _bytes[(_head + _count) % _bytes.Length] = b;
            _count++;
            accepted++;
        }

        return accepted;
    }

    /// <summary>The oldest byte, or 0 when empty (an empty RBR reads 0).</summary>
    public byte Pop()
    {
        if (_count == 0)
        {
            return 0;
        }

        var b = _bytes[_head];
        _head = (_head + 1) % _bytes.Length;
        _count--;
        return b;
    }

    public void Clear()
    {
        _head = 0;
        _count = 0;
    }

    /// <summary>The held bytes, oldest first.</summary>
    public byte[] ToArray()
    {
        var bytes = new byte[_count];
        for (var i = 0; i < _count; i++)
        {
            bytes[i] = _bytes[(_head + i) % _bytes.Length];
        }

        return bytes;
    }
}
