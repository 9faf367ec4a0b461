using ActorVmm.Actors.Settings;
using ActorVmm.Actors.Tracing;
using ActorVmm.Actors.Net;
using ActorVmm.Devices.Net;
using ActorVmm.Host.Composition;

namespace ActorVmm.Host.Serve;

public sealed partial class VmService
{
    /// <summary>
    /// Exit counts by kind are live (always counted); latency rows (by device) and interrupts come from the last trace
    /// window that ended (<see cref="StopTraceAsync"/>, or the VM's stop while traced): a running tracer's tables are
    /// not read while vCPU threads write them.
    /// </summary>
    public VmStatsInfo Stats(string id)
    {
        var vm = Find(id);
        var counters = vm.Machine.Blueprint.ExitCounters;
        var byKind = counters.Snapshot().Where(p => p.Value > 0).OrderByDescending(p => p.Value)
            .Select(p => new ExitRow(p.Key, p.Value, 0, 0, 0, 0)).ToList();
        var last = vm.LastStatistics;
        var byDevice = last is null ? [] : StatsReport.ByDevice(last).Select(Row).ToList();
        var interrupts = last is null
            ? []
            : last.Interrupts.Select(p => new InterruptRow(p.Key.Device, p.Key.Gsi, p.Value)).OrderBy(r => r.Gsi).ToList();
        return new VmStatsInfo(id, counters.Total, byKind, byDevice, DeviceCountersOf(vm), interrupts) { Nets = NetCountersOf(vm.Machine) };
    }

    public IReadOnlyList<SwitchInfo> Switches() =>
        [.. (_networks.Switches?.Stats() ?? []).Select(s => new SwitchInfo(s.Name, s.Ports, s.MacTableSize, s.Forwarded, s.Flooded, s.Filtered, s.Dropped))];

    /// <summary>The NICs' counters (also for <c>--stats</c>).</summary>
    internal static IReadOnlyList<NetCounters> NetCountersOf(BuiltVm machine) =>
        [.. machine.Nics.Select(nic => NetCountersOf(nic.Port, nic.Mac))];

    private static NetCounters NetCountersOf(NetPort port, MacAddress mac) =>
        new(
            port.Name,
            mac.ToString(),
            port.Link.Description,
            port.Counters.TxFrames,
            port.Counters.TxBytes,
            port.Counters.RxFrames,
            port.Counters.RxBytes,
            port.Counters.TotalDropped,
            port.Counters.Drops.ToDictionary(d => ValueParsers.Kebab(d.Key.ToString()), d => d.Value, StringComparer.Ordinal),
            port.Link.Dropped,
            port.PendingFrames,
            (port.Link as TapLink)?.ReadFailure);

    public IReadOnlyList<VmMetrics> Metrics()
    {
        List<ServedVm> all;
        lock (_vms)
        {
            all = [.. _vms.Values];
        }

        return all.Select(vm => new VmMetrics(vm.Id, vm.State, vm.Machine.Blueprint.ExitCounters.Snapshot(), DeviceCountersOf(vm))).ToList();
    }

    public Task StartTraceAsync(string id, string file, string? format, CancellationToken cancellation = default) => WithGate(id, async vm =>
    {
        RequireStarted(vm, "trace");
        if (vm.Tracer is not null)
        {
            throw VmServiceException.Conflict($"VM {id} is being traced already (DELETE /vms/{id}/trace first)");
        }

        if (string.IsNullOrWhiteSpace(file))
        {
            throw VmServiceException.BadRequest("file: a trace file path is required");
        }

        var traceFormat = (format ?? "chrome").ToLowerInvariant() switch
        {
            "chrome" => TraceFormat.Chrome,
            "jsonl" => TraceFormat.Jsonl,
            _ => throw VmServiceException.BadRequest($"format: chrome or jsonl, not '{format}'"),
        };
        var settings = vm.Settings.Tracing with { Stats = true, TraceFile = file, TraceFormat = traceFormat };
        VmTracer tracer;
        try
        {
            tracer = TracingSetup.Create(settings, id)!;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw VmServiceException.BadRequest($"file: cannot create {file}: {Settings.SettingsLoader.FirstLine(e.Message)}", e);
        }

        try
        {
            await CommandAsync(vm, "attaching the tracer", h => h.StartTracingAsync(tracer, CommandTimeout)).ConfigureAwait(false);
        }
        catch
        {
            await tracer.CompleteAsync().ConfigureAwait(false);
            throw;
        }

        vm.Tracer = tracer;
        vm.TraceSettings = settings;
        return vm.Info;
    });

    public Task StopTraceAsync(string id, CancellationToken cancellation = default) => WithGate(id, async vm =>
    {
        if (vm.Tracer is null)
        {
            throw VmServiceException.Conflict($"VM {id} is not being traced");
        }

        if (vm.State is VmStates.Running or VmStates.Paused)
        {
            var detached = vm.Tracer;
            await CommandAsync(vm, "detaching the tracer", async h => detached = await h.StopTracingAsync(CommandTimeout).ConfigureAwait(false)).ConfigureAwait(false);
            await FinishTraceAsync(vm, detached).ConfigureAwait(false);
        }

        // A VM that stopped while traced finished its trace then.
        vm.Tracer = null;
        return vm.Info;
    });

    private static async Task FinishTraceAsync(ServedVm vm, VmTracer tracer)
    {
        await TracingSetup.FinishAsync(tracer, vm.TraceSettings!, TextWriter.Null).ConfigureAwait(false);
        vm.LastStatistics = tracer.Statistics();
    }

    private static ExitRow Row((string Event, LatencyCell Cell) row) => new(
        row.Event,
        row.Cell.Count,
        row.Cell.MeanNs,
        row.Cell.TimedCount == 0 ? 0 : row.Cell.Histogram.GetValueAtPercentile(50),
        row.Cell.TimedCount == 0 ? 0 : row.Cell.Histogram.GetValueAtPercentile(99),
        row.Cell.TimedCount == 0 ? 0 : row.Cell.MaxNs);

    private static IReadOnlyList<DeviceCounters> DeviceCountersOf(ServedVm vm)
    {
        var faults = vm.Machine.Faults.Counters;
        var traffic = vm.Machine.VirtioTraffic;
        return vm.Endpoints.Select(e => new DeviceCounters(
            e.Name,
            e.InlineAccesses,
            e.PostedAccesses,
            e.ReadTimeouts,
            e.Restarts,
            e.Failures,
            faults.Injected(e.Name),
            traffic.GetValueOrDefault(e.Name)?.Chains ?? 0,
            traffic.GetValueOrDefault(e.Name)?.Bytes ?? 0)).ToList();
    }
}
