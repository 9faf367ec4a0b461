using System.Collections.Immutable;

namespace ActorVmm.Devices.Legacy;

/// <summary>Guest-visible state of an <see cref="I8042"/>, from <see cref="I8042.SaveState"/>.</summary>
/// <param name="PendingCommand">The controller command waiting for its data byte on port 0x60, or 0 for none.</param>
public sealed record I8042State(
    byte CommandByte,
    byte OutputPort,
    bool SystemFlag,
    bool LastWriteWasCommand,
    byte PendingCommand,
    ImmutableArray<byte> OutputBuffer,
    SystemControlPortBState PortB);
