namespace ActorVmm.Actors.Tracing;

/// <summary>
/// One trace record: an exit (on a vCPU), an interrupt, a fault or a restart. A small value written into a bounded
/// channel on the hot path; times are nanoseconds (<see cref="TimeNs"/> since the tracer started).
/// </summary>
public readonly record struct TraceEvent
{
    public TraceEventKind Kind { get; init; }

    /// <summary>Nanoseconds since the tracer started (exit: when KVM_RUN returned).</summary>
    public long TimeNs { get; init; }

    /// <summary>The vCPU id; -1 for events not on a vCPU (interrupts raised by device actors, restarts).</summary>
    public int Vcpu { get; init; }

    /// <summary>Port (PIO) or guest-physical address (MMIO); GSI for interrupts; raw detail for other exits.</summary>
    public ulong Address { get; init; }

    /// <summary>Start of the device's bus range holding <see cref="Address"/> (unclaimed: the port, or the 4 KiB MMIO page).</summary>
    public ulong RangeStart { get; init; }

    /// <summary>Access width in bytes.</summary>
    public int Size { get; init; }

    /// <summary>String I/O repeat count (1 otherwise).</summary>
    public int Count { get; init; }

    /// <summary>The first (up to 8) data bytes, little-endian: written, or read back by the guest.</summary>
    public ulong Value { get; init; }

    /// <summary>Device name, <see cref="TraceNames.Unclaimed"/>, or <see cref="TraceNames.NoDevice"/>.</summary>
    public string Device { get; init; }

    public AccessPath Path { get; init; }

    /// <summary>Time the access waited in the device actor's mailbox (0 when run inline).</summary>
    public long QueuedNs { get; init; }

    /// <summary>Time the exit took to handle on the vCPU thread (from KVM_RUN returning to the answer being ready).</summary>
    public long DurationNs { get; init; }

    /// <summary>Fault kind (faults), otherwise null.</summary>
    public string? Detail { get; init; }

    public TraceEvent()
    {
        Device = TraceNames.NoDevice;
        Count = 1;
    }
}
