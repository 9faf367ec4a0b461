namespace ActorVmm.Kvm.Memory;

/// <summary>One contiguous block of guest RAM and where it is mapped in this process.</summary>
public sealed record GuestMemoryRegion(int Slot, GuestAddress Start, ulong Size, nint HostAddress)
{
    /// <summary>The first guest address past this region (exclusive end); never overflows by construction.</summary>
    public GuestAddress End => Start.CheckedAdd(Size);

    public bool Contains(GuestAddress address) => address >= Start && address.Value - Start.Value < Size;
}
