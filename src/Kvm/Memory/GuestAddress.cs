namespace ActorVmm.Kvm.Memory;

/// <summary>
/// A guest-physical address. No raw arithmetic: only checked adds and differences, so an
/// address computed from guest-supplied values can never wrap silently.
/// </summary>
public readonly record struct GuestAddress(ulong Value) : IComparable<GuestAddress>
{
    public static readonly GuestAddress Zero = new(0);

    /// <summary>This address plus <paramref name="offset"/>; throws <see cref="GuestMemoryException"/> on overflow.</summary>
    public GuestAddress CheckedAdd(ulong offset)
    {
        if (!TryAdd(offset, out var result))
        {
            throw new GuestMemoryException(GuestMemoryError.AddressOverflow, this, offset,
                $"guest address 0x{Value:x} + 0x{offset:x} overflows");
        }

        return result;
    }

    /// <summary>This address plus <paramref name="offset"/>, or false when the sum would overflow.</summary>
    public bool TryAdd(ulong offset, out GuestAddress result)
    {
        if (offset > ulong.MaxValue - Value)
        {
            result = default;
            return false;
        }

        result = new GuestAddress(Value + offset);
        return true;
    }

    /// <summary>How far this address lies above <paramref name="baseAddress"/>; throws if it lies below.</summary>
    public ulong OffsetFrom(GuestAddress baseAddress)
    {
        if (Value < baseAddress.Value)
        {
            throw new GuestMemoryException(GuestMemoryError.AddressOverflow, this, 0,
                $"guest address 0x{Value:x} lies below 0x{baseAddress.Value:x}");
        }

        return Value - baseAddress.Value;
    }

    /// <summary>This address rounded up to <paramref name="alignment"/> (a power of two), checked.</summary>
    public GuestAddress AlignUp(ulong alignment)
    {
        if (alignment == 0 || (alignment & (alignment - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(alignment), alignment, "alignment must be a power of two");
        }

        var mask = alignment - 1;
        return CheckedAdd((alignment - (Value & mask)) & mask);
    }

    /// <summary>This address rounded down to <paramref name="alignment"/> (a power of two).</summary>
    public GuestAddress AlignDown(ulong alignment)
    {
        if (alignment == 0 || (alignment & (alignment - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(alignment), alignment, "alignment must be a power of two");
        }

        return new GuestAddress(Value & ~(alignment - 1));
    }

    public int CompareTo(GuestAddress other) => Value.CompareTo(other.Value);

    public static bool operator <(GuestAddress a, GuestAddress b) => a.Value < b.Value;

    public static bool operator >(GuestAddress a, GuestAddress b) => a.Value > b.Value;

    public static bool operator <=(GuestAddress a, GuestAddress b) => a.Value <= b.Value;

    public static bool operator >=(GuestAddress a, GuestAddress b) => a.Value >= b.Value;

    public override string ToString() => $"0x{Value:x}";
}
