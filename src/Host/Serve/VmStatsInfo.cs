namespace ActorVmm.Host.Serve;

/// <summary>
/// <c>GET /vms/{id}/stats</c>: the <c>--stats</c> tables as rows (by reason, by device) plus device and interrupt
/// counters. Exit rows are empty unless exit statistics are on (a trace or <c>--stats</c>).
/// </summary>
public sealed record VmStatsInfo(
    string Id,
    long TotalExits,
    IReadOnlyList<ExitRow> ByReason,
    IReadOnlyList<ExitRow> ByDevice,
    IReadOnlyList<DeviceCounters> Devices,
    IReadOnlyList<InterruptRow> Interrupts)
{
    /// <summary>The VM's NICs (net0, net1, ...), in order.</summary>
    public IReadOnlyList<NetCounters> Nets { get; init; } = [];
}

/// <summary>
/// One NIC: its MAC, what it is connected to, frames and bytes each way (virtio header included; tx counted before
/// faults), frames its port dropped by reason (malformed, rx-queue-full, fault, partition, ...), frames its link
/// dropped on the way out (a TAP that is down or full, a switch port's share of the switch's mailbox used up), frames
/// waiting for the guest, and why the link stopped receiving, if it did (a TAP deleted while attached).
/// </summary>
public sealed record NetCounters(
    string Name,
    string Mac,
    string Link,
    long TxFrames,
    long TxBytes,
    long RxFrames,
    long RxBytes,
    long Dropped,
    IReadOnlyDictionary<string, long> Drops,
    long LinkDropped,
    int Pending,
    string? LinkError);

/// <summary>One row of an exit table: count and latency in nanoseconds.</summary>
public sealed record ExitRow(string Event, long Count, double MeanNs, double P50Ns, double P99Ns, double MaxNs);

/// <summary>One device's access counters; for virtio devices, the chains its queues completed and the bytes it wrote into guest buffers.</summary>
public sealed record DeviceCounters(
    string Name,
    long InlineAccesses,
    long PostedAccesses,
    long ReadTimeouts,
    long Restarts,
    long Failures,
    long FaultsFired,
    long VirtioRequests,
    long VirtioBytes);

/// <summary>Interrupts raised per line.</summary>
public sealed record InterruptRow(string Device, ulong Gsi, long Count);

/// <summary>What <c>/metrics</c> exports for one VM.</summary>
public sealed record VmMetrics(
    string Id,
    string State,
    IReadOnlyDictionary<string, long> ExitsByKind,
    IReadOnlyList<DeviceCounters> Devices);
