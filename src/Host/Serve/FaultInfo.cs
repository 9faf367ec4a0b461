namespace ActorVmm.Host.Serve;

/// <summary><c>GET /vms/{id}/faults</c>: a fault plan (<c>spec</c> in the <c>--fault</c> grammar) and how often it fired.</summary>
public sealed record FaultInfo(string Id, string Device, string Spec, long Fired);
