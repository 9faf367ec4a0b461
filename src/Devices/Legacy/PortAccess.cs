namespace ActorVmm.Devices.Legacy;

/// <summary>Small helpers shared by the byte-wide legacy devices.</summary>
internal static class PortAccess
{
    /// <summary>What a read of nothing returns on a PC bus: all-ones.</summary>
    public static void FillAllOnes(Span<byte> data) => data.Fill(0xff);

    /// <summary>
    /// Counts the access and checks it is one byte wide. A bad width is counted and, for reads, answered with
    /// all-ones; the caller then returns without side effects.
    /// </summary>
    public static bool CheckByteRead(DeviceStats stats, Span<byte> data)
    {
        stats.CountRead();
        if (data.Length == 1)
        {
            return true;
        }

        stats.CountBadSize();
        FillAllOnes(data);
        return false;
    }

    /// <inheritdoc cref="CheckByteRead"/>
    public static bool CheckByteWrite(DeviceStats stats, ReadOnlySpan<byte> data)
    {
        stats.CountWrite();
        if (data.Length == 1)
        {
            return true;
        }

        stats.CountBadSize();
        return false;
    }

    /// <summary>
    /// <see cref="CheckByteRead"/> for a device of one port: an offset past it is also counted as unhandled and read
    /// as all-ones. True: a one-byte read of the port itself, to be answered by the caller.
    /// </summary>
    public static bool CheckSinglePortRead(DeviceStats stats, ulong offset, Span<byte> data)
    {
        if (!CheckByteRead(stats, data))
        {
            return false;
        }

        if (offset == 0)
        {
            return true;
        }

        stats.CountUnhandledRead();
        FillAllOnes(data);
        return false;
    }

    /// <summary><see cref="CheckSinglePortRead"/> for writes: an offset past the port is counted as unhandled and ignored.</summary>
    public static bool CheckSinglePortWrite(DeviceStats stats, ulong offset, ReadOnlySpan<byte> data)
    {
        if (!CheckByteWrite(stats, data))
        {
            return false;
        }

        if (offset == 0)
        {
            return true;
        }

        stats.CountUnhandledWrite();
        return false;
    }

    public static byte ToBcd(int value) => (byte)(((value / 10) << 4) | (value % 10));
}
