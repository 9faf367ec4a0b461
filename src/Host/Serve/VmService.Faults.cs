using ActorVmm.Actors.Faults;
using ActorVmm.Actors.Settings;

namespace ActorVmm.Host.Serve;

public sealed partial class VmService
{
    public FaultInfo AddFault(string id, string spec)
    {
        var vm = Find(id);
        FaultPlan plan;
        try
        {
            plan = FaultPlan.Parse(spec, "spec");
        }
        catch (SettingsException e)
        {
            throw VmServiceException.BadRequest(e.Message, e);
        }

        throw new VmServiceException(501, $"faults at run time: not wired yet ({plan} on {vm.Id})");
    }

    public IReadOnlyList<FaultInfo> Faults(string id)
    {
        var vm = Find(id);
        return vm.Machine.Faults.Plans.Select((p, i) => new FaultInfo($"f{i + 1}", p.Device, p.ToString(), 0)).ToList();
    }

    public void RemoveFault(string id, string faultId)
    {
        _ = Find(id);
        throw new VmServiceException(501, "faults at run time: not wired yet");
    }

    public Task CrashDeviceAsync(string id, string device, CancellationToken cancellation = default)
    {
        var vm = Find(id);
        _ = vm.Endpoint(device);
        throw new VmServiceException(501, "crash: not wired yet");
    }
}
