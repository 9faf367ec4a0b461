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

    /// <summary>The defaults of the embedded <c>reference.conf</c>.</summary>
    public static ActorVmmSettings Default => SettingsLoader.Reference;
}
