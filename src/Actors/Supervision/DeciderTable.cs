using ActorVmm.Actors.Settings;

namespace ActorVmm.Actors.Supervision;

/// <summary>
/// The decider table of <see cref="SupervisionSettings.Decider"/>: an exception's type name (short or full,
/// case-insensitive) to an action. The exception's own type is looked up first, then its base types
/// (so <c>IOException</c> also covers <c>FileNotFoundException</c>), then <c>default</c>; with no
/// <c>default</c> entry the device is restarted.
/// </summary>
public sealed class DeciderTable
{
    public const string DefaultKey = "default";

    private readonly Dictionary<string, SupervisionAction> _table;

    public DeciderTable(IReadOnlyDictionary<string, SupervisionAction> table)
    {
        _table = new Dictionary<string, SupervisionAction>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, action) in table)
        {
            _table[key] = action;
        }
    }

    public SupervisionAction Decide(Exception cause)
    {
        for (var type = cause.GetType(); type is not null; type = type.BaseType)
        {
            if ((type.FullName is not null && _table.TryGetValue(type.FullName, out var action)) || _table.TryGetValue(type.Name, out action))
            {
                return action;
            }
        }

        return _table.TryGetValue(DefaultKey, out var fallback) ? fallback : SupervisionAction.Restart;
    }
}
