using ActorVmm.Host.Serve;
using Prometheus;

namespace ActorVmm.Host.Api;

/// <summary>
/// <c>GET /metrics</c>: the counters of <see cref="IVmService.Metrics"/> in the Prometheus text format, through a
/// private prometheus-net registry (no process-wide default metrics). Before each collection the series are set from
/// the service's cumulative counters and the series of VMs that no longer exist are removed.
/// </summary>
internal sealed class VmMetricsExporter
{
    /// <summary>Content type of the Prometheus text exposition format.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private static readonly string[] States = [VmStates.Created, VmStates.Running, VmStates.Paused, VmStates.Stopped];

    private readonly IVmService _service;
    private readonly CollectorRegistry _registry;
    private readonly Gauge _vms;
    private readonly Gauge _state;
    private readonly Counter _exits;
    private readonly Counter _accesses;
    private readonly Counter _readTimeouts;
    private readonly Counter _restarts;
    private readonly Counter _failures;
    private readonly Counter _faultsFired;
    private readonly Counter _virtioRequests;
    private readonly Counter _virtioBytes;
    private readonly Lock _refresh = new();

    public VmMetricsExporter(IVmService service)
    {
        _service = service;
        _registry = Metrics.NewCustomRegistry();
        var factory = Metrics.WithCustomRegistry(_registry);
        _vms = factory.CreateGauge("actorvmm_vms", "VMs this process hosts.");
        _state = factory.CreateGauge("actorvmm_vm_state", "1 for the state the VM is in, 0 for the others.", "vm", "state");
        _exits = factory.CreateCounter("actorvmm_vm_exits_total", "VM exits by kind.", "vm", "kind");
        _accesses = factory.CreateCounter("actorvmm_device_accesses_total", "Device register accesses, answered inline or posted to the device's actor.", "vm", "device", "mode");
        _readTimeouts = factory.CreateCounter("actorvmm_device_read_timeouts_total", "Device reads that timed out (the guest read all-ones).", "vm", "device");
        _restarts = factory.CreateCounter("actorvmm_device_restarts_total", "Device restarts by its supervisor.", "vm", "device");
        _failures = factory.CreateCounter("actorvmm_device_failures_total", "Device failures.", "vm", "device");
        _faultsFired = factory.CreateCounter("actorvmm_device_faults_fired_total", "Injected faults that fired.", "vm", "device");
        _virtioRequests = factory.CreateCounter("actorvmm_virtio_requests_total", "virtio requests completed.", "vm", "device");
        _virtioBytes = factory.CreateCounter("actorvmm_virtio_bytes_total", "Bytes moved by virtio requests.", "vm", "device");
        _registry.AddBeforeCollectCallback(Refresh);
    }

    public Task WriteAsync(Stream output, CancellationToken cancellation) =>
        _registry.CollectAndExportAsTextAsync(output, cancellation);

    private void Refresh()
    {
        var metrics = _service.Metrics();
        lock (_refresh)
        {
            var live = new HashSet<string>(StringComparer.Ordinal);
            foreach (var vm in metrics)
            {
                live.Add(vm.Id);
                foreach (var state in States)
                {
                    _state.WithLabels(vm.Id, state).Set(state == vm.State ? 1 : 0);
                }

                foreach (var (kind, count) in vm.ExitsByKind)
                {
                    _exits.WithLabels(vm.Id, kind).IncTo(count);
                }

                foreach (var device in vm.Devices)
                {
                    _accesses.WithLabels(vm.Id, device.Name, "inline").IncTo(device.InlineAccesses);
                    _accesses.WithLabels(vm.Id, device.Name, "posted").IncTo(device.PostedAccesses);
                    _readTimeouts.WithLabels(vm.Id, device.Name).IncTo(device.ReadTimeouts);
                    _restarts.WithLabels(vm.Id, device.Name).IncTo(device.Restarts);
                    _failures.WithLabels(vm.Id, device.Name).IncTo(device.Failures);
                    _faultsFired.WithLabels(vm.Id, device.Name).IncTo(device.FaultsFired);
                    _virtioRequests.WithLabels(vm.Id, device.Name).IncTo(device.VirtioRequests);
                    _virtioBytes.WithLabels(vm.Id, device.Name).IncTo(device.VirtioBytes);
                }
            }

            _vms.Set(live.Count);
            RemoveGone(_state, live);
            RemoveGone(_exits, live);
            foreach (var counter in new[] { _accesses, _readTimeouts, _restarts, _failures, _faultsFired, _virtioRequests, _virtioBytes })
            {
                RemoveGone(counter, live);
            }
        }
    }

    /// <summary>Removes every series whose first label (<c>vm</c>) names a VM that is gone.</summary>
    private static void RemoveGone<TChild>(Collector<TChild> collector, HashSet<string> live)
        where TChild : ChildBase
    {
        foreach (var labels in collector.GetAllLabelValues().ToList())
        {
            if (labels.Length > 0 && !live.Contains(labels[0]))
            {
                collector.RemoveLabelled(labels);
            }
        }
    }
}
