using ActorVmm.Host.Serve;

namespace ActorVmm.Testing;

/// <summary>A fault injected into a running VM; <see cref="RemoveAsync"/> clears it (the next request is untouched).</summary>
public sealed class TestFault
{
    private readonly IVmService _service;
    private readonly string _vm;

    internal TestFault(IVmService service, string vm, FaultInfo info)
    {
        _service = service;
        _vm = vm;
        Id = info.Id;
        Device = info.Device;
        Spec = info.Spec;
    }

    /// <summary>The fault's id in its VM (<c>f1</c>, <c>f2</c>, ...).</summary>
    public string Id { get; }

    /// <summary>The device it targets (<c>disk0</c>).</summary>
    public string Device { get; }

    /// <summary>The plan in the <c>--fault</c> grammar.</summary>
    public string Spec { get; }

    /// <summary>How many times it has fired so far.</summary>
    public long Fired => _service.Faults(_vm).FirstOrDefault(f => f.Id == Id)?.Fired ?? 0;

    /// <summary>Clears the fault: from the device's next request or access on, it no longer fires.</summary>
    public Task RemoveAsync()
    {
        _service.RemoveFault(_vm, Id);
        return Task.CompletedTask;
    }
}
