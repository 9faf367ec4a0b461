using System.Buffers.Binary;
using System.Collections.Concurrent;
using ActorVmm.Devices;

namespace ActorVmm.TestSupport.Fakes;

/// <summary>Answers every read with a fixed byte and records writes.</summary>
public sealed class ConstantDevice(string name, byte value) : IBusDevice
{
    public ConcurrentQueue<(ulong Offset, byte[] Data)> Writes { get; } = new();

    public int Reads;

    public string Name { get; } = name;

    public void Read(ulong offset, Span<byte> data)
    {
        Interlocked.Increment(ref Reads);
        data.Fill(value);
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data) => Writes.Enqueue((offset, data.ToArray()));
}

/// <summary>Records every access in order; reads of an offset return the last value written there. Optionally slow.</summary>
public sealed class RecordingDevice(string name, int spinPerAccess = 0) : IBusDevice
{
    private readonly Dictionary<ulong, ulong> _registers = [];
    private int _inside;

    public List<(char Op, ulong Offset, ulong Value)> Log { get; } = [];

    /// <summary>Set if two accesses ever overlapped inside the device.</summary>
    public bool Overlapped { get; private set; }

    public string Name { get; } = name;

    public void Read(ulong offset, Span<byte> data)
    {
        Enter();
        var value = _registers.GetValueOrDefault(offset);
        Span<byte> buffer = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(buffer, value);
        buffer[..data.Length].CopyTo(data);
        Log.Add(('R', offset, value));
        Exit();
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        Enter();
        Span<byte> buffer = stackalloc byte[8];
        buffer.Clear();
        data.CopyTo(buffer);
        var value = BinaryPrimitives.ReadUInt64LittleEndian(buffer);
        _registers[offset] = value;
        Log.Add(('W', offset, value));
        Exit();
    }

    private void Enter()
    {
        if (Interlocked.Increment(ref _inside) != 1)
        {
            Overlapped = true;
        }

        if (spinPerAccess > 0)
        {
            Thread.SpinWait(spinPerAccess);
        }
    }

    private void Exit() => Interlocked.Decrement(ref _inside);
}

/// <summary>
/// A counter: writing 1 at offset 0 increments it, writing 0xDE throws <see cref="InvalidOperationException"/>,
/// writing 0xAD throws <see cref="IOException"/>; reading offset 0 returns it.
/// </summary>
public sealed class CounterDevice(string name) : IBusDevice, IStatefulDevice
{
    public const byte Crash = 0xDE;
    public const byte CrashIo = 0xAD;

    private int _count;

    public static int Built;

    public CounterDevice(string name, int start)
        : this(name) => _count = start;

    public string Name { get; } = name;

    public int Count => _count;

    public void Read(ulong offset, Span<byte> data)
    {
        data.Clear();
        data[0] = (byte)_count;
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        switch (data[0])
        {
            case Crash:
                throw new InvalidOperationException("magic write");
            case CrashIo:
                throw new IOException("backing file gone");
            case 1:
                _count++;
                break;
        }
    }

    public object SaveState() => _count;

    public void RestoreState(object state) => _count = (int)state;

    public void Reset() => _count = 0;
}

/// <summary>Reads block until <see cref="Release"/>; signals <see cref="Entered"/> when a read is inside.</summary>
public sealed class BlockingDevice(string name) : IBusDevice
{
    private readonly ManualResetEventSlim _release = new(false);

    public ManualResetEventSlim Entered { get; } = new(false);

    public string Name { get; } = name;

    public void Release() => _release.Set();

    public void Read(ulong offset, Span<byte> data)
    {
        Entered.Set();
        _release.Wait(TimeSpan.FromSeconds(30));
        data.Fill(0x11);
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
    }
}

/// <summary>Counts Dispose calls.</summary>
public sealed class DisposeProbe : IDisposable
{
    private int _disposed;

    public int Disposed => Volatile.Read(ref _disposed);

    public void Dispose() => Interlocked.Increment(ref _disposed);
}
