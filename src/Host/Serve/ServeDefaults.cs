using ActorVmm.Host.Settings;

namespace ActorVmm.Host.Serve;

/// <summary>
/// What <c>actorvmm serve</c> was started with: the parsed settings (logging, Akka) and the same layers as HOCON text
/// (its <c>--config</c> file, then its options), under which each VM's create body is parsed.
/// </summary>
public sealed record ServeDefaults(ActorVmmSettings Settings, string Hocon)
{
    /// <summary>The HOCON of a VM file and of command-line overrides, in precedence order.</summary>
    public static string HoconOf(string? configFile, IEnumerable<SettingOverride> overrides)
    {
        var text = configFile is null ? string.Empty : File.ReadAllText(configFile);
        return string.Join('\n', [text, .. overrides.Select(o => $"{o.Key} = {o.Hocon}")]);
    }
}
