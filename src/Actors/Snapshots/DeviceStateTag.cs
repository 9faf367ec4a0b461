namespace ActorVmm.Actors.Snapshots;

/// <summary>
/// The byte that opens every encoded device state and names its type. Values are part of the snapshot format:
/// never renumber or reuse one; a new state type takes the next free value.
/// </summary>
internal enum DeviceStateTag : byte
{
    Null = 0,
    Bytes = 1,
    VirtioPci = 2,
    Virtqueue = 3,
    Msix = 4,
    Serial16550 = 5,
    I8042 = 6,
    Cmos = 7,
    SystemControlPortB = 8,
    PortSink = 9,
    FastA20Gate = 10,
    AcpiPm = 11,
}
