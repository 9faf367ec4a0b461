namespace ActorVmm.Actors.Tracing;

/// <summary>
/// What a vCPU tracer remembers about one (exit kind, address): the device that claims it, the start of its range,
/// the device name's index in the trace, and the statistics cell. The bus is fixed once the VM runs, so this is
/// resolved once and then found in a small per-vCPU cache instead of a bus lookup and a dictionary lookup per exit.
/// </summary>
internal sealed class ExitRoute(TraceEventKind kind, ulong address, string device, int deviceIndex, ulong rangeStart, AccessPath path, LatencyCell? cell)
{
    public TraceEventKind Kind { get; } = kind;

    public ulong Address { get; } = address;

    public string Device { get; } = device;

    public int DeviceIndex { get; } = deviceIndex;

    public ulong RangeStart { get; } = rangeStart;

    /// <summary>Inline for claimed addresses (the exit turns Posted when the endpoint says so), Unclaimed, or None.</summary>
    public AccessPath Path { get; } = path;

    /// <summary>Statistics cell; null with statistics off.</summary>
    public LatencyCell? Cell { get; } = cell;
}
