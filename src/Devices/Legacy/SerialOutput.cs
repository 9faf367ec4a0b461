namespace ActorVmm.Devices.Legacy;

/// <summary>
/// Where a <see cref="Serial16550"/> sends what the guest transmits. Called on the thread that runs the device (the
/// device actor, i.e. in the vCPU's I/O exit path), outside the device's lock, with one byte per THR write.
/// It must not block: copy the bytes and hand them off (post to the console actor, a channel, a bounded buffer that
/// drops when full). The span is only valid during the call.
/// </summary>
public delegate void SerialOutput(ReadOnlySpan<byte> bytes);
