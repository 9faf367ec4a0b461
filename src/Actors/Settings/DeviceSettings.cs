namespace ActorVmm.Actors.Settings;

/// <summary><c>actorvmm.devices</c>: how vCPUs talk to device actors.</summary>
/// <param name="ReadTimeout">How long a vCPU thread waits for a device's read reply before the guest reads all-ones.</param>
/// <param name="MaxPosted">
/// Accesses posted to one device's actor and not yet run, at most; beyond it a vCPU's write waits for its turn as a
/// read does, so the mailbox (and the VMM's memory) does not grow with what a guest does.
/// </param>
public sealed record DeviceSettings(TimeSpan ReadTimeout, int MaxPosted = DeviceSettings.DefaultMaxPosted)
{
    public const int DefaultMaxPosted = 64;

    public static readonly DeviceSettings Default = new(TimeSpan.FromSeconds(1));

    /// <summary>Reads <c>actorvmm.devices</c>.</summary>
    internal static DeviceSettings FromConfig(HoconReader reader) => new(
        reader.Duration("actorvmm.devices.read-timeout"),
        reader.Int("actorvmm.devices.max-posted", 1, 1 << 20));
}
