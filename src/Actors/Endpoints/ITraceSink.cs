namespace ActorVmm.Actors.Endpoints;

/// <summary>
/// Device-side trace events, callable from any thread (device actors, supervisors, fault injection, vCPU threads
/// running a device inline). Never blocks; events beyond the trace buffer are dropped and counted.
/// </summary>
public interface ITraceSink
{
    /// <summary>A device raised an interrupt on <paramref name="gsi"/>.</summary>
    void Interrupt(uint gsi, string device);

    /// <summary>A device model failed or a fault was injected (<paramref name="kind"/>: e.g. "exception", "timeout", "injected:stall").</summary>
    void Fault(string device, string kind);

    /// <summary>A device was rebuilt by its supervisor.</summary>
    void Restart(string device);
}
