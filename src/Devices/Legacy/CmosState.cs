using System.Collections.Immutable;

namespace ActorVmm.Devices.Legacy;

/// <summary>Guest-visible state of a <see cref="Cmos"/>, from <see cref="Cmos.SaveState"/>: the index latch, the NMI
/// mask bit last written with it, and the 128 bytes of CMOS (time registers are not stored: they come from the clock).</summary>
public sealed record CmosState(byte Index, bool NmiDisabled, ImmutableArray<byte> Data);
