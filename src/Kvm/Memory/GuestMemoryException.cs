namespace ActorVmm.Kvm.Memory;

/// <summary>Why a guest memory access was refused.</summary>
public enum GuestMemoryError
{
    /// <summary>Address plus length wrapped around 2^64.</summary>
    AddressOverflow,

    /// <summary>The range is not (wholly) backed by one region of guest RAM.</summary>
    OutOfRange,

    /// <summary>Regions overlap, are empty, or are not page-aligned.</summary>
    InvalidRegion,

    /// <summary>The host could not map the memory.</summary>
    MapFailed,

    /// <summary>The host's huge page pool cannot back the memory (too few free pages, or no pool of that size).</summary>
    HugePagesUnavailable,
}

/// <summary>A typed error for a refused guest memory access; never an access violation.</summary>
public sealed class GuestMemoryException : Exception
{
    public GuestMemoryException(GuestMemoryError error, GuestAddress address, ulong length, string message)
        : base(message)
    {
        Error = error;
        Address = address;
        Length = length;
    }

    public GuestMemoryError Error { get; }

    public GuestAddress Address { get; }

    public ulong Length { get; }
}
