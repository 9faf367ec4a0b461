using Akka.Configuration;
using Akka.Configuration.Hocon;

namespace ActorVmm.Actors.Settings;

/// <summary>
/// Typed reads of a merged HOCON configuration. A bad value throws <see cref="SettingsException"/> with one line
/// naming the key and the layer it came from: the last override that covers the key, else the user's file, else
/// <c>reference.conf</c>.
/// </summary>
internal sealed class HoconReader
{
    private const string ReferenceSource = "reference.conf";

    private readonly Config _merged;
    private readonly Config _user;
    private readonly string _userSource;
    private readonly IReadOnlyList<(string Key, string Source)> _overrides;

    /// <param name="merged">All layers merged: overrides over the user's file over reference.conf.</param>
    /// <param name="user">The user's file alone.</param>
    /// <param name="userSource">What errors call the user's file.</param>
    /// <param name="overrides">Override keys and their sources, in the order applied (later ones win).</param>
    public HoconReader(Config merged, Config user, string userSource, IReadOnlyList<(string Key, string Source)> overrides)
    {
        _merged = merged;
        _user = user;
        _userSource = userSource;
        _overrides = overrides;
    }

    /// <summary>The raw value; every key exists in reference.conf, so a missing one is a broken reference.conf.</summary>
    public HoconValue Value(string path) =>
        _merged.GetValue(path) ?? throw new SettingsException($"{ReferenceSource}: {path} is missing", path, ReferenceSource);

    public string String(string path)
    {
        var value = Value(path);
        if (value.IsObject() || value.IsArray())
        {
            throw Fail(path, "must be a single value");
        }

        return value.GetString() ?? string.Empty;
    }

    /// <summary>The string, or null when it is empty or blank.</summary>
    public string? OptionalString(string path)
    {
        var text = String(path);
        return string.IsNullOrWhiteSpace(text) ? null : text;
    }

    public int Int(string path, int min, int max)
    {
        var text = String(path);
        if (!ValueParsers.TryParseInt(text, out var value) || value < min || value > max)
        {
            var range = max == int.MaxValue ? $"an integer >= {min}" : $"an integer from {min} to {max}";
            throw Fail(path, $"must be {range}: {text}");
        }

        return value;
    }

    /// <summary>A size in bytes (<c>512M</c>, <c>2G</c>, <c>1048576</c>); <paramref name="text"/> is the value as written.</summary>
    public ulong Size(string path, out string text)
    {
        text = String(path);
        if (!ValueParsers.TryParseSize(text, out var bytes))
        {
            throw Fail(path, $"must be a size (e.g. 512M, 2G or a number of bytes): {text}");
        }

        return bytes;
    }

    /// <summary>A positive duration.</summary>
    public TimeSpan Duration(string path)
    {
        var text = String(path);
        if (!ValueParsers.TryParseDuration(text, out var duration) || duration <= TimeSpan.Zero)
        {
            throw Fail(path, $"must be a positive duration (e.g. 500ms, 1s, 2m): {text}");
        }

        return duration;
    }

    public bool Bool(string path)
    {
        var text = String(path);
        if (!ValueParsers.TryParseBoolean(text, out var value))
        {
            throw Fail(path, $"must be on or off: {text}");
        }

        return value;
    }

    /// <summary>A kebab-case enum value (<c>stop-vm</c>).</summary>
    public T Enum<T>(string path)
        where T : struct, System.Enum
    {
        var text = String(path);
        if (!ValueParsers.TryParseEnum<T>(text, out var value))
        {
            throw Fail(path, $"must be {ValueParsers.Choices<T>()}: {text}");
        }

        return value;
    }

    /// <summary>The entries of a list, each built by <paramref name="entry"/> from its index and value.</summary>
    public IReadOnlyList<T> List<T>(string path, Func<int, HoconValue, T> entry)
    {
        var value = Value(path);
        if (!IsList(value))
        {
            throw Fail(path, "must be a list [ ... ]");
        }

        var result = new List<T>();
        if (value.Values.Count == 0 || value.Values.All(e => e is HoconArray a && a.Count == 0))
        {
            return result;
        }

        var items = value.GetArray();
        for (var i = 0; i < items.Count; i++)
        {
            result.Add(entry(i, items[i]));
        }

        return result;
    }

    /// <summary>An error about <paramref name="path"/>, naming its source; <paramref name="shownPath"/> replaces the path shown.</summary>
    public SettingsException Fail(string path, string detail, string? shownPath = null) =>
        SettingsException.Bad(SourceOf(path), shownPath ?? path, detail);

    /// <summary>The layer <paramref name="path"/>'s value came from: an override's source, the user's file or reference.conf.</summary>
    public string SourceOf(string path)
    {
        for (var i = _overrides.Count - 1; i >= 0; i--)
        {
            var key = _overrides[i].Key;
            if (key == path || path.StartsWith(key + ".", StringComparison.Ordinal) || key.StartsWith(path + ".", StringComparison.Ordinal))
            {
                return _overrides[i].Source;
            }
        }

        return !_user.IsEmpty && _user.HasPath(path) ? _userSource : ReferenceSource;
    }

    /// <summary>A value as errors show it: the text, or <c>{ ... }</c> / <c>[ ... ]</c>.</summary>
    public static string Show(HoconValue value) =>
        value.IsObject() ? "{ ... }" : value.IsArray() ? "[ ... ]" : value.GetString() ?? string.Empty;

    /// <summary>
    /// A list, including the empty list: Akka's <see cref="HoconValue.IsArray"/> is false for <c>[]</c> (one empty
    /// <see cref="HoconArray"/> element).
    /// </summary>
    public static bool IsList(HoconValue value) => value.Values.All(e => e is HoconArray) || value.IsArray();
}
