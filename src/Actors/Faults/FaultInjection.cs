using ActorVmm.Actors.Vm;

namespace ActorVmm.Actors.Faults;

/// <summary>One-call helpers over <see cref="FaultInjector"/> for code that holds plans and counters, not an injector.</summary>
public static class FaultInjection
{
    /// <summary>
    /// <paramref name="blueprint"/> with register-level faults from <paramref name="plans"/> (those naming it) injected,
    /// counted in <paramref name="counters"/>. For virtio-blk per-request faults use one <see cref="FaultInjector"/> for
    /// the VM and call <see cref="FaultInjector.AttachBlock"/> before building the devices.
    /// </summary>
    public static DeviceBlueprint Wrap(DeviceBlueprint blueprint, IReadOnlyList<FaultPlan> plans, FaultCounters counters) =>
        new FaultInjector(plans.Where(p => p.Device == blueprint.Name), counters).Wrap(blueprint);
}
