using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace ActorVmm.Devices.Pci;

/// <summary>
/// One function's MSI-X (PCI Local Bus 3.0, 6.8.2): the capability in configuration space (enable and function-mask
/// writable), the vector table (every vector starts masked) and the pending bit array, which the owning device maps
/// in a BAR and forwards accesses to. <see cref="Notify"/> sends a vector's message to the <see cref="IMsiInterrupts"/>,
/// or marks it pending while it or the function is masked; unmasking sends what is pending. Bad guest accesses and
/// refused messages are counted in <see cref="DeviceStats"/>, never thrown. Not thread-safe: the owner serialises.
/// </summary>
public sealed class MsixCapability
{
    public const byte CapabilityId = 0x11;
    public const int CapabilityLength = 12;
    public const int EntrySize = 16;

    /// <summary>Message Control bit 15: MSI-X enable.</summary>
    public const ushort ControlEnable = 0x8000;

    /// <summary>Message Control bit 14: function mask.</summary>
    public const ushort ControlFunctionMask = 0x4000;

    /// <summary>Vector Control bit 0: the vector is masked.</summary>
    public const uint VectorMasked = 1;

    /// <summary>The most vectors a table can have (Message Control's 11-bit table size).</summary>
    public const int MaxVectors = 2048;

    private readonly PciConfiguration _configuration;
    private readonly IMsiInterrupts _sink;
    private readonly DeviceStats _stats;
    private readonly uint[] _table;
    private readonly ulong[] _pending;
    private readonly MsiMessage?[] _routed;
    private readonly bool[] _refused;
    private bool _enabled;
    private bool _functionMasked;

    /// <param name="configuration">Where the capability goes (appended to its list).</param>
    /// <param name="vectors">Table size, 1..min(<see cref="MaxVectors"/>, the sink's vector count).</param>
    /// <param name="bar">The BAR (0..5) holding the table and PBA.</param>
    /// <param name="tableOffset">Table offset in that BAR (8-byte aligned).</param>
    /// <param name="pbaOffset">PBA offset in that BAR (8-byte aligned).</param>
    /// <param name="sink">Where messages go.</param>
    /// <param name="stats">Where guest errors are counted (the owning device's).</param>
    public MsixCapability(PciConfiguration configuration, int vectors, int bar, uint tableOffset, uint pbaOffset, IMsiInterrupts sink, DeviceStats stats)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(sink);
        ArgumentNullException.ThrowIfNull(stats);
        ArgumentOutOfRangeException.ThrowIfLessThan(vectors, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(vectors, Math.Min(MaxVectors, sink.VectorCount));
        ArgumentOutOfRangeException.ThrowIfNegative(bar);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(bar, 5);
        if ((tableOffset & 7) != 0 || (pbaOffset & 7) != 0)
        {
            throw new ArgumentException("the MSI-X table and PBA must be 8-byte aligned");
        }

        _configuration = configuration;
        _sink = sink;
        _stats = stats;
        VectorCount = vectors;
        TableOffset = tableOffset;
        PbaOffset = pbaOffset;
        _table = new uint[vectors * 4];
        _pending = new ulong[(vectors + 63) / 64];
        _routed = new MsiMessage?[vectors];
        _refused = new bool[vectors];
        MaskAll();

        Span<byte> cap = stackalloc byte[CapabilityLength];
        cap.Clear();
        cap[0] = CapabilityId;
        BinaryPrimitives.WriteUInt16LittleEndian(cap[2..], (ushort)(vectors - 1));
        BinaryPrimitives.WriteUInt32LittleEndian(cap[4..], tableOffset | (uint)bar);
        BinaryPrimitives.WriteUInt32LittleEndian(cap[8..], pbaOffset | (uint)bar);
        ReadOnlySpan<byte> writable = [0, 0, 0, (byte)((ControlEnable | ControlFunctionMask) >> 8)];
        CapabilityOffset = configuration.AddCapability(cap, writable);
    }

    public int VectorCount { get; }

    /// <summary>Where the capability sits in configuration space.</summary>
    public int CapabilityOffset { get; }

    public uint TableOffset { get; }

    public uint PbaOffset { get; }

    /// <summary>Bytes of the vector table.</summary>
    public ulong TableLength => (ulong)VectorCount * EntrySize;

    /// <summary>Bytes of the pending bit array (whole qwords).</summary>
    public ulong PbaLength => (ulong)_pending.Length * 8;

    /// <summary>The guest enabled MSI-X (the function then signals through vectors, not INTx).</summary>
    public bool Enabled => _enabled;

    public bool FunctionMasked => _functionMasked;

    public bool IsMasked(int vector) => (_table[(vector * 4) + 3] & VectorMasked) != 0;

    public bool IsPending(int vector) => (_pending[vector >> 6] & (1UL << (vector & 63))) != 0;

    /// <summary>The message in entry <paramref name="vector"/> as the guest wrote it.</summary>
    public MsiMessage MessageOf(int vector) =>
        new(((ulong)_table[(vector * 4) + 1] << 32) | _table[vector * 4], _table[(vector * 4) + 2]);

    /// <summary>
    /// Signals <paramref name="vector"/>: sent when it and the function are unmasked, else its pending bit is set.
    /// Returns false for a vector outside the table (nothing happens). The caller checks <see cref="Enabled"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool Notify(int vector)
    {
        if ((uint)vector >= (uint)VectorCount)
        {
            return false;
        }

        if (_functionMasked || IsMasked(vector))
        {
            _pending[vector >> 6] |= 1UL << (vector & 63);
            return true;
        }

        Send(vector);
        return true;
    }

    /// <summary>Call after every configuration write: follows the enable and function-mask bits.</summary>
    public void ConfigurationWritten()
    {
        var control = _configuration.ReadWord(CapabilityOffset + 2);
        var wasLive = _enabled && !_functionMasked;
        _enabled = (control & ControlEnable) != 0;
        _functionMasked = (control & ControlFunctionMask) != 0;
        if (!wasLive && _enabled && !_functionMasked)
        {
            for (var v = 0; v < VectorCount; v++)
            {
                SendIfPending(v);
            }
        }
    }

    /// <summary>A read of the vector table at <paramref name="offset"/> (relative to the table); 4 or 8 aligned bytes.</summary>
    public void ReadTable(ulong offset, Span<byte> data)
    {
        if (!IsValidAccess(offset, data.Length, TableLength))
        {
            _stats.CountUnhandledRead();
            data.Fill(0xFF);
            return;
        }

        var dword = (int)(offset / 4);
        BinaryPrimitives.WriteUInt32LittleEndian(data, _table[dword]);
        if (data.Length == 8)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(data[4..], _table[dword + 1]);
        }
    }

    /// <summary>A write to the vector table at <paramref name="offset"/> (relative to the table); 4 or 8 aligned bytes.</summary>
    public void WriteTable(ulong offset, ReadOnlySpan<byte> data)
    {
        if (!IsValidAccess(offset, data.Length, TableLength))
        {
            _stats.CountUnhandledWrite();
            return;
        }

        var dword = (int)(offset / 4);
        WriteTableDword(dword, BinaryPrimitives.ReadUInt32LittleEndian(data));
        if (data.Length == 8)
        {
            WriteTableDword(dword + 1, BinaryPrimitives.ReadUInt32LittleEndian(data[4..]));
        }
    }

    /// <summary>A read of the pending bit array at <paramref name="offset"/> (relative to it); 4 or 8 aligned bytes.</summary>
    public void ReadPba(ulong offset, Span<byte> data)
    {
        if (!IsValidAccess(offset, data.Length, PbaLength))
        {
            _stats.CountUnhandledRead();
            data.Fill(0xFF);
            return;
        }

        var qword = _pending[offset / 8];
        if (data.Length == 8)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(data, qword);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(data, (uint)(qword >> (int)(offset % 8 * 8)));
        }
    }

    /// <summary>The PBA is read-only: writes are counted and dropped.</summary>
    public void WritePba() => _stats.CountUnhandledWrite();

    /// <summary>A copy of the table and pending bits (the enable/mask bits live in configuration space).</summary>
    public MsixState SaveState() => new((uint[])_table.Clone(), (ulong[])_pending.Clone());

    /// <summary>
    /// Brings back a saved table and pending bits (restore the configuration space first). Routes of unmasked
    /// vectors are handed to the sink again — a new instance does not know what the old one had routed.
    /// </summary>
    public void RestoreState(MsixState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Table.Length != _table.Length || state.Pending.Length != _pending.Length)
        {
            throw new ArgumentException("not a saved MSI-X state of this size", nameof(state));
        }

        state.Table.CopyTo(_table, 0);
        state.Pending.CopyTo(_pending, 0);
        Array.Clear(_routed);
        Array.Clear(_refused);
        var control = _configuration.ReadWord(CapabilityOffset + 2);
        _enabled = (control & ControlEnable) != 0;
        _functionMasked = (control & ControlFunctionMask) != 0;
        for (var v = 0; v < VectorCount; v++)
        {
            if (!IsMasked(v))
            {
                Route(v);
                if (_enabled && !_functionMasked)
                {
                    SendIfPending(v);
                }
            }
        }
    }

    /// <summary>Power-on state: every vector masked with an empty message, nothing pending, no routes.</summary>
    public void Reset()
    {
        for (var v = 0; v < VectorCount; v++)
        {
            if (_routed[v] is not null)
            {
                _sink.ClearMessage(v);
            }
        }

        Array.Clear(_table);
        Array.Clear(_pending);
        Array.Clear(_routed);
        Array.Clear(_refused);
        MaskAll();
        ConfigurationWritten();
    }

    private static bool IsValidAccess(ulong offset, int length, ulong size) =>
        length is 4 or 8 && offset % (ulong)length == 0 && offset < size && (ulong)length <= size - offset;

    private void MaskAll()
    {
        for (var v = 0; v < VectorCount; v++)
        {
            _table[(v * 4) + 3] = VectorMasked;
        }
    }

    private void WriteTableDword(int dword, uint value)
    {
        var vector = dword / 4;
        if (dword % 4 != 3)
        {
            // Drivers change a message while the vector is masked. A change to a live entry is picked up when the
            // vector next fires (Send routes it), not here: a route costs a KVM_SET_GSI_ROUTING, and a guest
            // writing dwords in a loop must not turn each into one.
            _table[dword] = value;
            return;
        }

        var wasMasked = IsMasked(vector);
        _table[dword] = value & VectorMasked; // the other bits are reserved
        if (wasMasked && !IsMasked(vector))
        {
            Route(vector);
            if (_enabled && !_functionMasked)
            {
                SendIfPending(vector);
            }
        }
    }

    /// <summary>Hands the entry's message to the sink unless it already holds it.</summary>
    private void Route(int vector)
    {
        var message = MessageOf(vector);
        if (_routed[vector] == message)
        {
            return;
        }

        _routed[vector] = message;
        _refused[vector] = !_sink.SetMessage(vector, message);
        if (_refused[vector])
        {
            _stats.CountGuestError();
        }
    }

    private void SendIfPending(int vector)
    {
        if (IsPending(vector) && !IsMasked(vector))
        {
            _pending[vector >> 6] &= ~(1UL << (vector & 63));
            Send(vector);
        }
    }

    private void Send(int vector)
    {
        Route(vector);
        if (_refused[vector])
        {
            // The guest programmed something that is not an interrupt: the message goes nowhere.
            _stats.CountGuestError();
            return;
        }

        _sink.Trigger(vector);
    }
}

/// <summary>A saved MSI-X vector table (4 dwords per vector) and pending bit array.</summary>
public sealed record MsixState(uint[] Table, ulong[] Pending);
