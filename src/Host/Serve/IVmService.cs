using System.Threading.Channels;

namespace ActorVmm.Host.Serve;

/// <summary>
/// The VMs one <c>actorvmm serve</c> process hosts, as the REST API, the metrics and <c>ActorVmm.Testing</c> see them.
/// Every method is safe from any thread. Errors are <see cref="VmServiceException"/>s carrying the HTTP status the
/// API answers with (400 bad input, 404 unknown id, 409 wrong state or already exists) and one line naming the problem.
/// Nothing is half-created: a create that fails leaves no VM, no fd and no thread behind.
/// </summary>
public interface IVmService
{
    /// <summary>
    /// Creates VM <paramref name="id"/> from a JSON object whose keys are the HOCON VM keys (<c>cpus</c>,
    /// <c>memory</c>, <c>kernel</c>, <c>initrd</c>, <c>cmdline</c>, <c>disks</c>, <c>rng</c>, <c>console</c>,
    /// <c>serial</c>, <c>restore</c>, <c>start-paused</c>) plus <c>faults</c> (as <c>actorvmm.faults</c>); with
    /// <c>restore</c> the machine is the snapshot's and <c>disks</c> replace its disks one for one. The machine is built now (kernel loaded, disks
    /// opened), so a missing kernel or disk is a 400 here; the vCPUs start with <see cref="StartAsync"/>, except for a
    /// restore, which is started at once (running, or paused with <c>start-paused</c>).
    /// </summary>
    Task<VmInfo> CreateAsync(string id, string json, CancellationToken cancellation = default);

    IReadOnlyList<VmInfo> List();

    VmInfo Get(string id);

    /// <summary>Removes a VM; a running or paused one is killed first. Returns once its resources are released.</summary>
    Task DeleteAsync(string id, CancellationToken cancellation = default);

    Task<VmInfo> StartAsync(string id, CancellationToken cancellation = default);

    Task<VmInfo> PauseAsync(string id, CancellationToken cancellation = default);

    Task<VmInfo> ResumeAsync(string id, CancellationToken cancellation = default);

    /// <summary>Graceful stop: the ACPI power button (when the guest enabled it), else Ctrl-Alt-Del through the i8042, then a forced stop after <paramref name="timeout"/>.</summary>
    Task<VmInfo> StopAsync(string id, TimeSpan? timeout = null, CancellationToken cancellation = default);

    /// <summary>
    /// Writes a snapshot of a paused VM into <paramref name="dir"/> (created; an existing one must be empty), from
    /// which <c>restore</c> starts clones; the VM stays paused. 409 unless paused, 400 for an unusable directory.
    /// </summary>
    Task<SnapshotInfo> SnapshotAsync(string id, string dir, CancellationToken cancellation = default);

    /// <summary>Stops the VM now (no guest involvement).</summary>
    Task<VmInfo> KillAsync(string id, CancellationToken cancellation = default);

    /// <summary>Completes with the VM's state once it is stopped (its exit filled in).</summary>
    Task<VmInfo> WaitForStopAsync(string id, CancellationToken cancellation = default);

    IReadOnlyList<DeviceInfo> Devices(string id);

    /// <summary>Adds a fault in the <c>--fault</c> grammar (<c>disk0:crash,every=3</c>); it takes effect on the next request/access.</summary>
    FaultInfo AddFault(string id, string spec);

    IReadOnlyList<FaultInfo> Faults(string id);

    void RemoveFault(string id, string faultId);

    /// <summary>Makes the device fail now; its supervisor decides what follows.</summary>
    Task CrashDeviceAsync(string id, string device, CancellationToken cancellation = default);

    VmStatsInfo Stats(string id);

    /// <summary>Starts exit tracing into <paramref name="file"/> (<c>chrome</c> or <c>jsonl</c>) on a running or paused VM.</summary>
    Task StartTraceAsync(string id, string file, string? format, CancellationToken cancellation = default);

    /// <summary>Stops exit tracing and completes the trace file.</summary>
    Task StopTraceAsync(string id, CancellationToken cancellation = default);

    /// <summary>The last <paramref name="bytes"/> bytes of console output (kept in a ring whether or not anybody is attached).</summary>
    byte[] ConsoleTail(string id, int bytes);

    /// <summary>
    /// Attaches to the console: the reader gets the ring's content from <paramref name="fromTail"/> bytes back, then
    /// every byte the guest writes, until the VM stops (the channel completes) or the subscription is disposed.
    /// </summary>
    ConsoleSubscription AttachConsole(string id, int fromTail = 0);

    /// <summary>Sends bytes to the guest's console input (COM1 or hvc0).</summary>
    int SendConsoleInput(string id, ReadOnlySpan<byte> bytes);

    /// <summary>Counters of every VM for the metrics endpoint.</summary>
    IReadOnlyList<VmMetrics> Metrics();

    /// <summary>The in-process switches that have NICs on them (<c>GET /switches</c>).</summary>
    IReadOnlyList<SwitchInfo> Switches() => [];
}

/// <summary>
/// <c>GET /switches</c>: one in-process switch: its ports (NICs, and an uplink when it has one), MACs learned, and
/// frames forwarded to one port, flooded, filtered (destination on the ingress port) and dropped.
/// </summary>
public sealed record SwitchInfo(string Name, int Ports, int MacTableSize, long Forwarded, long Flooded, long Filtered, long Dropped);

/// <summary>A console attachment: read <see cref="Output"/>; dispose to detach.</summary>
public sealed class ConsoleSubscription(ChannelReader<ReadOnlyMemory<byte>> output, Action detach) : IDisposable
{
    private int _disposed;

    public ChannelReader<ReadOnlyMemory<byte>> Output { get; } = output;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            detach();
        }
    }
}
