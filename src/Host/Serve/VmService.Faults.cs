using ActorVmm.Actors.Faults;
using ActorVmm.Actors.Settings;

namespace ActorVmm.Host.Serve;

public sealed partial class VmService
{
    public FaultInfo AddFault(string id, string spec)
    {
        var vm = Find(id);
        if (vm.State == VmStates.Stopped)
        {
            throw VmServiceException.Conflict($"VM {id} is stopped: faults need a VM that runs or will");
        }

        try
        {
            var plan = FaultPlan.Parse(spec, "spec");
            var faultId = vm.Machine.Faults.Add(plan);
            return new FaultInfo(faultId, plan.Device, plan.ToString(), 0);
        }
        catch (SettingsException e)
        {
            throw VmServiceException.BadRequest(Settings.SettingsLoader.FirstLine(e.Message), e);
        }
    }

    public IReadOnlyList<FaultInfo> Faults(string id) =>
        Find(id).Machine.Faults.Active.Select(a => new FaultInfo(a.Id, a.Plan.Device, a.Plan.ToString(), a.Fired)).ToList();

    public void RemoveFault(string id, string faultId)
    {
        if (!Find(id).Machine.Faults.Remove(faultId))
        {
            throw VmServiceException.NotFound($"VM {id} has no fault {faultId}");
        }
    }
}
