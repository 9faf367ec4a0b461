namespace ActorVmm.Actors.Vm;

/// <summary>What a device may ask of its VM (e.g. the i8042's reset line, a pvpanic device, an ACPI power button).</summary>
public interface IVmControl
{
    string VmName { get; }

    /// <summary>Stops the VM with <paramref name="reason"/> (asynchronous; the first reason wins). Safe from any thread.</summary>
    void RequestStop(VmStopReason reason);
}
