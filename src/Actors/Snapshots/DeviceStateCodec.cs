using System.Collections.Immutable;
using System.Runtime.InteropServices;
using ActorVmm.Devices.Acpi;
using ActorVmm.Devices.Legacy;
using ActorVmm.Devices.Pci;
using ActorVmm.Devices.Virtio;

namespace ActorVmm.Actors.Snapshots;

/// <summary>
/// Binary encoding (little-endian, <see cref="BinaryWriter"/>) of the values devices return from
/// <see cref="ActorVmm.Devices.IStatefulDevice.SaveState"/> and <see cref="IVirtioDevice.SaveDeviceState"/>. Each value
/// opens with a one-byte tag naming its type (<see cref="DeviceStateTag"/>; null has one too), then its fields in
/// declaration order; nullable fields carry a presence byte, arrays a u32 count. A type without a codec is refused
/// on write, so a new device state fails the codec tests instead of a snapshot at run time.
/// <para>
/// Reading treats the bytes as untrusted: unknown tags, truncation, booleans other than 0/1 and counts over the
/// bounds below are an <see cref="InvalidDataException"/> with one line, never another exception type; nothing
/// larger than a bound is allocated.
/// </para>
/// </summary>
public static class DeviceStateCodec
{
    /// <summary>Most bytes in one byte array (PCI configuration, FIFOs, virtio-console's pending input).</summary>
    public const int MaxBytes = 1 << 20;

    /// <summary>Most virtqueues (and queue vectors) of one virtio function.</summary>
    public const int MaxQueues = 1024;

    /// <summary>Most MSI-X vectors of one function (the PCI limit): 4 table dwords each, one pending bit each.</summary>
    public const int MaxMsixVectors = 2048;

    /// <summary>How deep states may nest (a virtio function holds its device's state).</summary>
    private const int MaxDepth = 4;

    /// <summary>Bytes of a <see cref="VirtqueueState"/> with both optional fields absent.</summary>
    private const int VirtqueueMinBytes = 2 + 1 + (3 * 8) + 2 + 2 + 1 + 1 + 1 + 1 + 1;

    private static readonly ImmutableDictionary<Type, DeviceStateTag> _tags = new Dictionary<Type, DeviceStateTag>
    {
        [typeof(byte[])] = DeviceStateTag.Bytes,
        [typeof(VirtioPciState)] = DeviceStateTag.VirtioPci,
        [typeof(VirtqueueState)] = DeviceStateTag.Virtqueue,
        [typeof(MsixState)] = DeviceStateTag.Msix,
        [typeof(Serial16550State)] = DeviceStateTag.Serial16550,
        [typeof(I8042State)] = DeviceStateTag.I8042,
        [typeof(CmosState)] = DeviceStateTag.Cmos,
        [typeof(SystemControlPortBState)] = DeviceStateTag.SystemControlPortB,
        [typeof(PortSinkState)] = DeviceStateTag.PortSink,
        [typeof(FastA20GateState)] = DeviceStateTag.FastA20Gate,
        [typeof(AcpiPmState)] = DeviceStateTag.AcpiPm,
    }.ToImmutableDictionary();

    /// <summary>The state types this codec encodes (besides null).</summary>
    public static IReadOnlyCollection<Type> StateTypes => _tags.Keys.ToArray();

    public static bool Supports(Type type) => _tags.ContainsKey(type);

    /// <summary>Writes <paramref name="state"/> with its tag.</summary>
    /// <exception cref="NotSupportedException">No codec for the state's type (the message names it).</exception>
    /// <exception cref="ArgumentException">A count over the bounds a reader accepts.</exception>
    public static void Write(BinaryWriter writer, object? state)
    {
        ArgumentNullException.ThrowIfNull(writer);
        WriteValue(writer, state, 0);
    }

    /// <summary>Reads one value written by <see cref="Write"/>.</summary>
    /// <exception cref="InvalidDataException">The bytes are not a valid encoding (one line saying why).</exception>
    public static object? Read(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        try
        {
            return ReadValue(reader, 0);
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException("device state: truncated");
        }
        catch (IOException ex)
        {
            throw new InvalidDataException($"device state: cannot be read: {ex.Message}");
        }
    }

    /// <summary><see cref="Write"/> into a new array.</summary>
    public static byte[] Encode(object? state)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream))
        {
            Write(writer, state);
        }

        return stream.ToArray();
    }

    /// <summary><see cref="Read"/> from an array that must hold exactly one value.</summary>
    /// <exception cref="InvalidDataException">Not a valid encoding, or bytes left over after it.</exception>
    public static object? Decode(byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        using var stream = new MemoryStream(bytes, writable: false);
        using var reader = new BinaryReader(stream);
        var state = Read(reader);
        if (stream.Position != stream.Length)
        {
            throw new InvalidDataException($"device state: {stream.Length - stream.Position} bytes left over after it");
        }

        return state;
    }

    private static void WriteValue(BinaryWriter w, object? state, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new ArgumentException($"device state nests deeper than {MaxDepth}");
        }

        if (state is null)
        {
            w.Write((byte)DeviceStateTag.Null);
            return;
        }

        if (!_tags.TryGetValue(state.GetType(), out var tag))
        {
            throw new NotSupportedException(
                $"no snapshot codec for device state {state.GetType().FullName}: add it to {nameof(DeviceStateCodec)}");
        }

        w.Write((byte)tag);
        switch (state)
        {
            case byte[] bytes:
                w.WriteBytes(bytes, MaxBytes, "bytes");
                break;
            case VirtioPciState s:
                WriteVirtioPci(w, s, depth);
                break;
            case VirtqueueState s:
                WriteVirtqueue(w, s);
                break;
            case MsixState s:
                WriteMsix(w, s);
                break;
            case Serial16550State s:
                w.Write(s.InterruptEnable);
                w.Write(s.LineControl);
                w.Write(s.ModemControl);
                w.Write(s.Scratch);
                w.Write(s.DivisorLow);
                w.Write(s.DivisorHigh);
                w.Write(s.FifoControl);
                w.Write(s.LineStatusErrors);
                w.Write(s.ModemStatusDeltas);
                w.Write(s.TransmitterEmptyPending);
                w.WriteBytes(s.InputFifo.AsSpan(), MaxBytes, "serial input FIFO");
                break;
            case I8042State s:
                w.Write(s.CommandByte);
                w.Write(s.OutputPort);
                w.Write(s.SystemFlag);
                w.Write(s.LastWriteWasCommand);
                w.Write(s.PendingCommand);
                w.WriteBytes(s.OutputBuffer.AsSpan(), MaxBytes, "i8042 output buffer");
                WritePortB(w, s.PortB);
                break;
            case CmosState s:
                w.Write(s.Index);
                w.Write(s.NmiDisabled);
                w.WriteBytes(s.Data.AsSpan(), MaxBytes, "CMOS data");
                break;
            case SystemControlPortBState s:
                WritePortB(w, s);
                break;
            case PortSinkState s:
                WriteOptional(w, s.LastValue, w.Write);
                w.Write(s.LastWriteOffset);
                break;
            case FastA20GateState s:
                w.Write(s.Value);
                break;
            case AcpiPmState s:
                w.Write(s.Status);
                w.Write(s.Enable);
                w.Write(s.Control);
                break;
        }
    }

    private static object? ReadValue(BinaryReader r, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new InvalidDataException($"device state: nests deeper than {MaxDepth}");
        }

        var tag = r.ReadByte();
        return (DeviceStateTag)tag switch
        {
            DeviceStateTag.Null => null,
            DeviceStateTag.Bytes => r.ReadBoundedBytes(MaxBytes, "bytes"),
            DeviceStateTag.VirtioPci => ReadVirtioPci(r, depth),
            DeviceStateTag.Virtqueue => ReadVirtqueue(r),
            DeviceStateTag.Msix => ReadMsix(r),
            DeviceStateTag.Serial16550 => new Serial16550State(
                InterruptEnable: r.ReadByte(),
                LineControl: r.ReadByte(),
                ModemControl: r.ReadByte(),
                Scratch: r.ReadByte(),
                DivisorLow: r.ReadByte(),
                DivisorHigh: r.ReadByte(),
                FifoControl: r.ReadByte(),
                LineStatusErrors: r.ReadByte(),
                ModemStatusDeltas: r.ReadByte(),
                TransmitterEmptyPending: r.ReadStrictBoolean("serial THRE pending"),
                InputFifo: ReadImmutableBytes(r, "serial input FIFO")),
            DeviceStateTag.I8042 => new I8042State(
                CommandByte: r.ReadByte(),
                OutputPort: r.ReadByte(),
                SystemFlag: r.ReadStrictBoolean("i8042 system flag"),
                LastWriteWasCommand: r.ReadStrictBoolean("i8042 last write was command"),
                PendingCommand: r.ReadByte(),
                OutputBuffer: ReadImmutableBytes(r, "i8042 output buffer"),
                PortB: ReadPortB(r)),
            DeviceStateTag.Cmos => new CmosState(
                Index: r.ReadByte(),
                NmiDisabled: r.ReadStrictBoolean("CMOS NMI disabled"),
                Data: ReadImmutableBytes(r, "CMOS data")),
            DeviceStateTag.SystemControlPortB => ReadPortB(r),
            DeviceStateTag.PortSink => new PortSinkState(
                LastValue: ReadOptional(r, "port sink value", r.ReadUInt32),
                LastWriteOffset: r.ReadUInt64()),
            DeviceStateTag.FastA20Gate => new FastA20GateState(r.ReadByte()),
            DeviceStateTag.AcpiPm => new AcpiPmState(Status: r.ReadUInt16(), Enable: r.ReadUInt16(), Control: r.ReadUInt16()),
            _ => throw new InvalidDataException($"device state: unknown type tag {tag}"),
        };
    }

    private static void WriteVirtioPci(BinaryWriter w, VirtioPciState s, int depth)
    {
        w.WriteBytes(s.PciConfiguration, MaxBytes, "PCI configuration");
        w.Write(s.DeviceFeatureSelect);
        w.Write(s.DriverFeatureSelect);
        w.Write(s.DriverFeatures);
        w.Write(s.Status);
        w.Write(s.Isr);
        w.Write(s.ConfigGeneration);
        w.Write(s.QueueSelect);
        w.Write(s.Activated);
        w.WriteCount(s.Queues.Count, MaxQueues, "virtqueues");
        foreach (var queue in s.Queues)
        {
            WriteVirtqueue(w, queue);
        }

        WriteValue(w, s.DeviceState, depth + 1);
        w.Write(s.Msix is not null);
        if (s.Msix is not null)
        {
            WriteMsix(w, s.Msix);
        }

        w.Write(s.ConfigVector);
        w.Write(s.QueueVectors is not null);
        if (s.QueueVectors is not null)
        {
            w.WriteCount(s.QueueVectors.Count, MaxQueues, "queue vectors");
            foreach (var vector in s.QueueVectors)
            {
                w.Write(vector);
            }
        }
    }

    private static VirtioPciState ReadVirtioPci(BinaryReader r, int depth)
    {
        var configuration = r.ReadBoundedBytes(MaxBytes, "PCI configuration");
        var deviceFeatureSelect = r.ReadUInt32();
        var driverFeatureSelect = r.ReadUInt32();
        var driverFeatures = r.ReadUInt64();
        var status = r.ReadByte();
        var isr = r.ReadByte();
        var configGeneration = r.ReadByte();
        var queueSelect = r.ReadUInt16();
        var activated = r.ReadStrictBoolean("virtio activated");
        var queues = new VirtqueueState[r.ReadCount(MaxQueues, VirtqueueMinBytes, "virtqueues")];
        for (var i = 0; i < queues.Length; i++)
        {
            queues[i] = ReadVirtqueue(r);
        }

        var deviceState = ReadValue(r, depth + 1);
        var msix = r.ReadStrictBoolean("MSI-X present") ? ReadMsix(r) : null;
        var configVector = r.ReadUInt16();
        ushort[]? queueVectors = null;
        if (r.ReadStrictBoolean("queue vectors present"))
        {
            queueVectors = new ushort[r.ReadCount(MaxQueues, sizeof(ushort), "queue vectors")];
            for (var i = 0; i < queueVectors.Length; i++)
            {
                queueVectors[i] = r.ReadUInt16();
            }
        }

        return new VirtioPciState(
            configuration, deviceFeatureSelect, driverFeatureSelect, driverFeatures, status, isr, configGeneration,
            queueSelect, activated, queues, deviceState, msix, configVector, queueVectors);
    }

    private static void WriteVirtqueue(BinaryWriter w, VirtqueueState s)
    {
        w.Write(s.Size);
        w.Write(s.Ready);
        w.Write(s.DescTable);
        w.Write(s.AvailRing);
        w.Write(s.UsedRing);
        w.Write(s.NextAvail);
        w.Write(s.NextUsed);
        w.Write(s.EventIdxEnabled);
        w.Write(s.IndirectEnabled);
        WriteOptional(w, s.SignalledUsed, w.Write);
        w.Write(s.Broken);
        WriteOptional(w, s.FailedOnce, w.Write);
    }

    private static VirtqueueState ReadVirtqueue(BinaryReader r) =>
        new(
            Size: r.ReadUInt16(),
            Ready: r.ReadStrictBoolean("queue ready"),
            DescTable: r.ReadUInt64(),
            AvailRing: r.ReadUInt64(),
            UsedRing: r.ReadUInt64(),
            NextAvail: r.ReadUInt16(),
            NextUsed: r.ReadUInt16(),
            EventIdxEnabled: r.ReadStrictBoolean("queue event idx"),
            IndirectEnabled: r.ReadStrictBoolean("queue indirect"),
            SignalledUsed: ReadOptional(r, "queue signalled used", r.ReadUInt16),
            Broken: r.ReadStrictBoolean("queue broken"))
        {
            FailedOnce = ReadOptional(r, "queue failed once", r.ReadUInt16),
        };

    private static void WriteMsix(BinaryWriter w, MsixState s)
    {
        w.WriteCount(s.Table.Length, MaxMsixVectors * 4, "MSI-X table");
        foreach (var dword in s.Table)
        {
            w.Write(dword);
        }

        w.WriteCount(s.Pending.Length, MaxMsixVectors / 64, "MSI-X pending bits");
        foreach (var word in s.Pending)
        {
            w.Write(word);
        }
    }

    private static MsixState ReadMsix(BinaryReader r)
    {
        var table = new uint[r.ReadCount(MaxMsixVectors * 4, sizeof(uint), "MSI-X table")];
        for (var i = 0; i < table.Length; i++)
        {
            table[i] = r.ReadUInt32();
        }

        var pending = new ulong[r.ReadCount(MaxMsixVectors / 64, sizeof(ulong), "MSI-X pending bits")];
        for (var i = 0; i < pending.Length; i++)
        {
            pending[i] = r.ReadUInt64();
        }

        return new MsixState(table, pending);
    }

    private static void WritePortB(BinaryWriter w, SystemControlPortBState s)
    {
        w.Write(s.Value);
        w.Write(s.Toggle);
    }

    private static SystemControlPortBState ReadPortB(BinaryReader r) =>
        new(Value: r.ReadByte(), Toggle: r.ReadStrictBoolean("port 61h toggle"));

    private static ImmutableArray<byte> ReadImmutableBytes(BinaryReader r, string what) =>
        ImmutableCollectionsMarshal.AsImmutableArray(r.ReadBoundedBytes(MaxBytes, what));

    private static void WriteOptional<T>(BinaryWriter w, T? value, Action<T> write)
        where T : struct
    {
        w.Write(value.HasValue);
        if (value.HasValue)
        {
            write(value.Value);
        }
    }

    private static T? ReadOptional<T>(BinaryReader r, string what, Func<T> read)
        where T : struct =>
        r.ReadStrictBoolean(what + " present") ? read() : null;
}
