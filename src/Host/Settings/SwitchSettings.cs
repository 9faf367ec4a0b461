using ActorVmm.Actors.Settings;

namespace ActorVmm.Host.Settings;

/// <summary>
/// <c>actorvmm.switches.NAME</c>: options of the in-process switch NAME (NICs join a switch by naming it; a switch
/// needs an entry here only for these options). Process-wide: <c>actorvmm serve</c> reads them from its own settings.
/// </summary>
/// <param name="Name">The switch's name, as NICs give it (<c>switch=NAME</c>).</param>
/// <param name="Uplink">An existing TAP on the host the switch forwards to and from as one more port; null: none.</param>
public sealed record SwitchSettings(string Name, string? Uplink)
{
    internal const string Path = "actorvmm.switches";

    /// <summary>Reads <c>actorvmm.switches</c>: <c>{ lan0 { uplink = tap0 } }</c>.</summary>
    internal static IReadOnlyList<SwitchSettings> FromConfig(HoconReader reader)
    {
        var switches = new List<SwitchSettings>();
        foreach (var (name, value) in reader.Value(Path).GetObject().Items)
        {
            var where = $"{Path}.{name}";
            if (NetSettings.TryParse($"switch={name}", out var nameError) is null)
            {
                throw reader.Fail(Path, nameError!, where);
            }

            if (!value.IsObject())
            {
                throw reader.Fail(Path, $"{name} must be an object, e.g. {{ uplink = tap0 }}: {HoconReader.Show(value)}", where);
            }

            string? uplink = null;
            foreach (var (key, field) in value.GetObject().Items)
            {
                if (key != "uplink")
                {
                    throw reader.Fail(Path, $"{name}: unknown key {key} (a switch has uplink)", where);
                }

                var text = field.IsObject() || field.IsArray() ? null : field.GetString();
                if (text is null || (text.Length > 0 && NetSettings.TryParse($"tap={text}", out _) is null))
                {
                    throw reader.Fail(Path, $"{name}: uplink must name a TAP: {HoconReader.Show(field)}", where);
                }

                uplink = text.Length == 0 ? null : text;
            }

            switches.Add(new SwitchSettings(name, uplink));
        }

        return switches;
    }
}
