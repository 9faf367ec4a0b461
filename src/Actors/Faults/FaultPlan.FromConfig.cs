using Akka.Configuration.Hocon;
using ActorVmm.Actors.Settings;

namespace ActorVmm.Actors.Faults;

/// <summary>Reading <c>actorvmm.faults</c>.</summary>
public sealed partial record FaultPlan
{
    /// <summary>
    /// Reads the fault list at <paramref name="path"/>: each entry is <c>"DEVICE:KIND[,key=value...]"</c> or
    /// <c>{ device = disk0, kind = crash, every = 100 }</c>.
    /// </summary>
    internal static IReadOnlyList<FaultPlan> FromConfig(HoconReader reader, string path = "actorvmm.faults") =>
        reader.List(path, (index, item) => FromEntry(reader, path, index, item));

    private static FaultPlan FromEntry(HoconReader reader, string path, int index, HoconValue item)
    {
        var where = $"{path}[{index}]";
        if (item.IsArray())
        {
            throw reader.Fail(path, $"entry {index} must be {{ device = ..., kind = ..., every = ... }} or \"DEVICE:KIND[,every=N]\"", where);
        }

        if (!item.IsObject())
        {
            var spec = item.GetString() ?? string.Empty;
            return TryParse(spec, out var parsed, out var error)
                ? parsed
                : throw reader.Fail(path, SettingsException.IsOption(reader.SourceOf(path)) ? $"'{spec}': {error}" : $"entry {index} '{spec}': {error}", where);
        }

        string? device = null;
        string? kind = null;
        var options = new List<(string Key, string Value)>();
        foreach (var (key, field) in item.GetObject().Items)
        {
            if (field.IsObject() || field.IsArray())
            {
                throw reader.Fail(path, $"entry {index}: {key} must be a single value", where);
            }

            var text = field.GetString() ?? string.Empty;
            switch (key)
            {
                case "device":
                    device = text;
                    break;
                case "kind":
                    kind = text;
                    break;
                default:
                    options.Add((key, text));
                    break;
            }
        }

        if (device is null || kind is null)
        {
            throw reader.Fail(path, $"entry {index} needs device and kind (e.g. {{ device = disk0, kind = crash, every = 100 }})", where);
        }

        return TryCreate(device, kind, options, out var plan, out var problem)
            ? plan
            : throw reader.Fail(path, $"entry {index}: {problem}", where);
    }
}
