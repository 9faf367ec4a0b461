using ActorVmm.Actors.Settings;
using ActorVmm.Actors.Faults;

namespace ActorVmm.Host.Settings;

/// <summary>
/// Everything <c>actorvmm</c> reads from HOCON (<c>actorvmm { ... }</c>), parsed once by <see cref="SettingsLoader"/>.
/// </summary>
public sealed record ActorVmmSettings(
    VmSettings Vm,
    DeviceSettings Devices,
    SupervisionSettings Supervision,
    LoggingSettings Logging,
    TracingSettings Tracing)
{
    /// <summary><c>actorvmm.faults</c> (and <c>--fault</c>): device faults to inject; empty normally.</summary>
    public IReadOnlyList<FaultPlan> Faults { get; init; } = [];

    /// <summary><c>actorvmm.switches</c>: options of in-process switches (their TAP uplinks); empty normally.</summary>
    public IReadOnlyList<SwitchSettings> Switches { get; init; } = [];

    /// <summary>The defaults of the embedded <c>reference.conf</c>.</summary>
    public static ActorVmmSettings Default => SettingsLoader.Reference;

    /// <summary>Reads all of <c>actorvmm</c>, section by section.</summary>
    internal static ActorVmmSettings FromConfig(HoconReader reader)
    {
        var vm = VmSettings.FromConfig(reader);
        var devices = DeviceSettings.FromConfig(reader);
        var supervision = SupervisionSettings.FromConfig(reader);
        var logging = LoggingSettings.FromConfig(reader);
        var tracing = TracingSettings.FromConfig(reader);
        return new ActorVmmSettings(vm, devices, supervision, logging, tracing) { Faults = FaultPlan.FromConfig(reader), Switches = SwitchSettings.FromConfig(reader) };
    }
}
