using Akka.Configuration;
using ActorVmm.Actors.Settings;

namespace ActorVmm.Host.Settings;

/// <summary>
/// Parses <c>actorvmm { ... }</c> once into an immutable <see cref="ActorVmmSettings"/>: the embedded
/// <c>reference.conf</c>, then the user's VM file over it, then <see cref="SettingOverride"/>s (the command line) over
/// that. Unknown keys (compared with reference.conf's key paths) and mistyped or out-of-range values throw
/// <see cref="SettingsException"/> with one line naming the key and where it came from.
/// </summary>
public static class SettingsLoader
{
    /// <summary>Logical name of the embedded reference.conf.</summary>
    public const string ResourceName = "ActorVmm.reference.conf";

    /// <summary>The root key everything lives under.</summary>
    public const string RootKey = "actorvmm";

    /// <summary>Maps whose keys are free-form (not compared with reference.conf).</summary>
    private static readonly HashSet<string> OpenMaps = new(StringComparer.Ordinal) { "actorvmm.supervision.decider", "actorvmm.switches" };

    /// <summary>Keys whose value is a list.</summary>
    private static readonly HashSet<string> ListKeys = new(StringComparer.Ordinal) { "actorvmm.vm.disks", "actorvmm.vm.nets", "actorvmm.faults" };

    private static readonly Lazy<string> ReferenceTextLazy = new(ReadReferenceResource);
    private static readonly Lazy<ActorVmmSettings> ReferenceLazy = new(() => Parse(string.Empty, "reference.conf"));

    /// <summary>
    /// The embedded reference.conf, freshly parsed on every call: Akka's <see cref="Config.WithFallback"/> can
    /// merge into (mutate) the objects of its fallback, so a parsed reference is never shared.
    /// </summary>
    public static Config ReferenceConfig => ConfigurationFactory.ParseString(ReferenceTextLazy.Value);

    /// <summary>The reference defaults as settings.</summary>
    public static ActorVmmSettings Reference => ReferenceLazy.Value;

    /// <summary>The text of the embedded reference.conf.</summary>
    public static string ReferenceText() => ReferenceTextLazy.Value;

    private static string ReadReferenceResource()
    {
        using var stream = typeof(SettingsLoader).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"embedded resource {ResourceName} is missing from {typeof(SettingsLoader).Assembly.GetName().Name}");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>
    /// Loads settings: reference.conf, the VM file <paramref name="configFile"/> (if given) over it, then
    /// <paramref name="overrides"/> in order (later ones win).
    /// </summary>
    /// <exception cref="SettingsException">The file is missing or unreadable, or a key or value is bad.</exception>
    public static ActorVmmSettings Load(string? configFile = null, IEnumerable<SettingOverride>? overrides = null)
    {
        if (configFile is null)
        {
            return Parse(string.Empty, "reference.conf", overrides);
        }

        string text;
        try
        {
            text = File.ReadAllText(configFile);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new SettingsException($"config file not found: {configFile}", source: configFile, inner: e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new SettingsException($"cannot read config file {configFile}: {FirstLine(e.Message)}", source: configFile, inner: e);
        }

        return Parse(text, configFile, overrides);
    }

    /// <summary>Parses HOCON text as if it were a VM file named <paramref name="sourceName"/>.</summary>
    /// <exception cref="SettingsException">A key or value is bad.</exception>
    public static ActorVmmSettings Parse(string hocon, string sourceName, IEnumerable<SettingOverride>? overrides = null)
    {
        var reference = ReferenceConfig;
        var keys = new ReferenceKeys(reference, RootKey, OpenMaps, ListKeys);
        var user = ParseHocon(hocon, sourceName);
        keys.Check(user, sourceName);

        var overrideList = overrides?.ToList() ?? [];
        var merged = user.WithFallback(reference);
        foreach (var o in overrideList)
        {
            var layer = ParseHocon($"{o.Key} = {o.Hocon}", o.Source);
            keys.Check(layer, o.Source);
            merged = layer.WithFallback(merged);
        }

        var layers = overrideList.Select(o => (o.Key, o.Source)).ToList();
        return ActorVmmSettings.FromConfig(new HoconReader(merged, user, sourceName, layers));
    }

    private static Config ParseHocon(string text, string sourceName)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return Config.Empty;
        }

        try
        {
            return ConfigurationFactory.ParseString(text);
        }
        catch (Exception e)
        {
            throw new SettingsException($"{sourceName}: not valid HOCON: {FirstLine(e.Message)}", source: sourceName, inner: e);
        }
    }

    internal static string FirstLine(string message)
    {
        var line = message.Split('\n', 2)[0].Trim();
        return line.Length == 0 ? "unknown error" : line;
    }
}
