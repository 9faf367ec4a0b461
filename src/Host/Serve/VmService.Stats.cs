using ActorVmm.Actors.Settings;
using ActorVmm.Actors.Tracing;

namespace ActorVmm.Host.Serve;

public sealed partial class VmService
{
    public VmStatsInfo Stats(string id)
    {
        var vm = Find(id);
        return new VmStatsInfo(id, 0, [], [], DeviceCountersOf(vm), []);
    }

    public IReadOnlyList<VmMetrics> Metrics()
    {
        List<ServedVm> all;
        lock (_vms)
        {
            all = [.. _vms.Values];
        }

        return all.Select(vm => new VmMetrics(vm.Id, vm.State, new Dictionary<string, long>(), DeviceCountersOf(vm))).ToList();
    }

    public Task StartTraceAsync(string id, string file, string? format, CancellationToken cancellation = default) =>
        throw new VmServiceException(501, "tracing at run time: not wired yet");

    public Task StopTraceAsync(string id, CancellationToken cancellation = default) =>
        throw new VmServiceException(501, "tracing at run time: not wired yet");

    private static IReadOnlyList<DeviceCounters> DeviceCountersOf(ServedVm vm)
    {
        var faults = vm.Machine.Faults.Counters;
        var traffic = vm.Machine.PciSlots.ToDictionary(s => s.Name, s => s.Traffic, StringComparer.Ordinal);
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
