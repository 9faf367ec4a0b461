using Akka.Configuration;
using Akka.Configuration.Hocon;

namespace ActorVmm.Actors.Settings;

/// <summary>
/// Checks a HOCON layer's keys and shapes against a reference configuration: an unknown key throws with a
/// "did you mean" hint, an object where a value belongs (or the reverse) throws naming the key.
/// </summary>
internal sealed class ReferenceKeys
{
    private readonly Config _reference;
    private readonly string _rootKey;
    private readonly IReadOnlySet<string> _openMaps;
    private readonly IReadOnlySet<string> _listKeys;

    /// <param name="reference">The reference configuration every key must appear in.</param>
    /// <param name="rootKey">The root key settings live under, for the hint on an unknown top-level key.</param>
    /// <param name="openMaps">Paths of objects whose keys are free-form.</param>
    /// <param name="listKeys">Paths whose value is a list (Akka's HOCON reports an empty list as neither array nor object).</param>
    public ReferenceKeys(Config reference, string rootKey, IReadOnlySet<string> openMaps, IReadOnlySet<string> listKeys)
    {
        _reference = reference;
        _rootKey = rootKey;
        _openMaps = openMaps;
        _listKeys = listKeys;
    }

    /// <summary>Throws <see cref="SettingsException"/> naming <paramref name="source"/> at the first bad key of <paramref name="layer"/>.</summary>
    public void Check(Config layer, string source)
    {
        if (layer.IsEmpty || layer.Root is null || !layer.Root.IsObject())
        {
            return;
        }

        CheckObject(layer.Root.GetObject(), _reference.Root.GetObject(), prefix: string.Empty, source);
    }

    private void CheckObject(HoconObject user, HoconObject reference, string prefix, string source)
    {
        foreach (var (key, value) in user.Items)
        {
            var path = prefix + key;
            if (!reference.Items.TryGetValue(key, out var referenceValue))
            {
                throw UnknownKey(path, key, reference, prefix, source);
            }

            if (_listKeys.Contains(path))
            {
                if (!HoconReader.IsList(value))
                {
                    throw SettingsException.Bad(source, path, "must be a list [ ... ]");
                }
            }
            else if (referenceValue.IsObject())
            {
                if (!value.IsObject())
                {
                    throw SettingsException.Bad(source, path, "must be an object { ... }");
                }

                if (!_openMaps.Contains(path))
                {
                    CheckObject(value.GetObject(), referenceValue.GetObject(), path + ".", source);
                }
            }
            else if (value.IsObject())
            {
                throw SettingsException.Bad(source, path, referenceValue.IsArray() ? "must be a list [ ... ]" : "must be a value, not an object");
            }
            else if (referenceValue.IsArray() && !value.IsArray())
            {
                throw SettingsException.Bad(source, path, "must be a list [ ... ]");
            }
            else if (!referenceValue.IsArray() && value.IsArray())
            {
                throw SettingsException.Bad(source, path, "must be a single value, not a list");
            }
        }
    }

    private SettingsException UnknownKey(string path, string key, HoconObject reference, string prefix, string source)
    {
        var best = reference.Items.Keys
            .Select(k => (Key: k, Distance: ValueParsers.Distance(k, key)))
            .Where(c => c.Distance <= Math.Max(2, key.Length / 3))
            .OrderBy(c => c.Distance)
            .Select(c => c.Key)
            .FirstOrDefault();
        var hint = best is not null
            ? $" (did you mean {prefix}{best}?)"
            : prefix.Length == 0 ? $" (settings live under {_rootKey} {{ ... }})" : string.Empty;
        return new SettingsException($"{source}: unknown key {path}{hint}", path, source);
    }
}
