namespace ActorVmm.Actors.Faults;

/// <summary>
/// One armed fault plan of a VM, as <see cref="FaultInjector.Active"/> lists it: its id (<c>f1</c>, <c>f2</c>, ...,
/// stable for the VM's life and never reused), the plan (<c>Plan.ToString()</c> is its <c>--fault</c> spec) and how
/// many times it fired so far.
/// </summary>
public sealed record ActiveFault(string Id, FaultPlan Plan, long Fired);
