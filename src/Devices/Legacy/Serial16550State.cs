using System.Collections.Immutable;

namespace ActorVmm.Devices.Legacy;

/// <summary>Guest-visible state of a <see cref="Serial16550"/>, from <see cref="Serial16550.SaveState"/>.</summary>
public sealed record Serial16550State(
    byte InterruptEnable,
    byte LineControl,
    byte ModemControl,
    byte Scratch,
    byte DivisorLow,
    byte DivisorHigh,
    byte FifoControl,
    byte LineStatusErrors,
    byte ModemStatusDeltas,
    bool TransmitterEmptyPending,
    ImmutableArray<byte> InputFifo);
