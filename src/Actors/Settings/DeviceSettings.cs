namespace ActorVmm.Actors.Settings;

/// <summary><c>actorvmm.devices</c>: how vCPUs talk to device actors.</summary>
/// <param name="ReadTimeout">How long a vCPU thread waits for a device's read reply before the guest reads all-ones.</param>
public sealed record DeviceSettings(TimeSpan ReadTimeout)
{
    public static readonly DeviceSettings Default = new(TimeSpan.FromSeconds(1));

    /// <summary>Reads <c>actorvmm.devices</c>.</summary>
    internal static DeviceSettings FromConfig(HoconReader reader) => new(reader.Duration("actorvmm.devices.read-timeout"));
}
