namespace ActorVmm.Actors.Settings;

/// <summary>What the device supervisor does with a failure of a given exception type (the decider table).</summary>
public enum SupervisionAction
{
    Restart,
    Resume,
    Stop,
    Escalate,
}

/// <summary>Where a restarted device's state comes from.</summary>
public enum RestartStateSource
{
    /// <summary>The state saved before the failure (PCI/virtio configuration, queues, interrupt lines).</summary>
    Saved,

    /// <summary>Power-on state.</summary>
    PowerOn,
}

/// <summary>What happens when a device exceeds its restart budget.</summary>
public enum BudgetExceededPolicy
{
    /// <summary>Stop the device (virtio: DEVICE_NEEDS_RESET and a config interrupt); the VM keeps running.</summary>
    StopDevice,

    /// <summary>Stop the VM with a reason.</summary>
    StopVm,
}

/// <summary><c>actorvmm.supervision</c>: the device supervisor's decider table and restart budget.</summary>
/// <param name="MaxRestarts">Restarts allowed within <paramref name="Within"/> before the budget is exceeded.</param>
/// <param name="Within">The sliding window for <paramref name="MaxRestarts"/>.</param>
/// <param name="RestartState">Where a restarted device's state comes from.</param>
/// <param name="OnBudgetExceeded">What happens beyond the budget.</param>
/// <param name="Decider">Exception type name (short or full, e.g. <c>IOException</c>) to action; <c>default</c> is the fallback key.</param>
public sealed record SupervisionSettings(
    int MaxRestarts,
    TimeSpan Within,
    RestartStateSource RestartState,
    BudgetExceededPolicy OnBudgetExceeded,
    IReadOnlyDictionary<string, SupervisionAction> Decider)
{
    public static readonly SupervisionSettings Default = new(
        10,
        TimeSpan.FromMinutes(1),
        RestartStateSource.Saved,
        BudgetExceededPolicy.StopVm,
        new Dictionary<string, SupervisionAction> { ["default"] = SupervisionAction.Restart });
}
