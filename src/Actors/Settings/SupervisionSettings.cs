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

    /// <summary>Reads <c>actorvmm.supervision</c>; the decider table must have a <c>default</c> entry.</summary>
    internal static SupervisionSettings FromConfig(HoconReader reader)
    {
        const string deciderPath = "actorvmm.supervision.decider";
        var decider = new Dictionary<string, SupervisionAction>(StringComparer.Ordinal);
        foreach (var (key, value) in reader.Value(deciderPath).GetObject().Items)
        {
            var path = deciderPath + "." + key;
            if (value.IsObject() || value.IsArray() || !ValueParsers.TryParseEnum<SupervisionAction>(value.GetString() ?? string.Empty, out var action))
            {
                throw reader.Fail(deciderPath, $"must be {ValueParsers.Choices<SupervisionAction>()}: {HoconReader.Show(value)}", path);
            }

            decider[key] = action;
        }

        if (!decider.ContainsKey("default"))
        {
            throw reader.Fail(deciderPath, "must have a default entry");
        }

        var maxRestarts = reader.Int("actorvmm.supervision.max-restarts", 0, int.MaxValue);
        return new SupervisionSettings(
            maxRestarts,
            reader.Duration("actorvmm.supervision.within"),
            reader.Enum<RestartStateSource>("actorvmm.supervision.restart-state"),
            reader.Enum<BudgetExceededPolicy>("actorvmm.supervision.on-budget-exceeded"),
            decider);
    }
}
