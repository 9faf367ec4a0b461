using System.Text;
using System.Text.Json;
using Akka.Configuration;
using Akka.Configuration.Hocon;
using ActorVmm.Host.Settings;

namespace ActorVmm.Host.Cli;

/// <summary>
/// Turns <c>actorvmm vm create</c>'s options (the <c>run</c> VM options and <c>--config FILE</c>) into the create
/// body: a JSON object of the HOCON VM keys the user set (<c>cpus</c>, <c>memory</c>, <c>disks</c>, <c>restore</c>,
/// ... and <c>faults</c>); keys left out take the server's defaults. Everything is checked here first with the same
/// <see cref="SettingsLoader"/> as <c>run</c>, and file paths are made absolute (the server has its own working
/// directory).
/// </summary>
internal static class VmCreateBody
{
    private const string VmKey = "actorvmm.vm";
    private const string FaultsKey = "actorvmm.faults";

    /// <exception cref="SettingsException">A bad option, key or file.</exception>
    public static string Build(string? configFile, IReadOnlyList<SettingOverride> overrides)
    {
        SettingsLoader.Load(configFile, overrides);

        var user = configFile is null ? Config.Empty : ConfigurationFactory.ParseString(File.ReadAllText(configFile));
        foreach (var o in overrides)
        {
            user = ConfigurationFactory.ParseString($"{o.Key} = {o.Hocon}").WithFallback(user);
        }

        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (!user.IsEmpty && user.HasPath(VmKey) && user.GetValue(VmKey) is { } vm && vm.IsObject())
            {
                foreach (var (key, value) in vm.GetObject().Items)
                {
                    json.WritePropertyName(key);
                    WriteValue(json, value, key);
                }
            }

            if (!user.IsEmpty && user.HasPath(FaultsKey) && user.GetValue(FaultsKey) is { } faults)
            {
                json.WritePropertyName("faults");
                WriteValue(json, faults, "faults");
            }

            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void WriteValue(Utf8JsonWriter json, HoconValue value, string key)
    {
        if (value.IsObject())
        {
            json.WriteStartObject();
            foreach (var (name, field) in value.GetObject().Items)
            {
                json.WritePropertyName(name);
                WriteValue(json, field, (key, name) switch
                {
                    ("disk-entry", "path") => "disk-path",
                    ("net-entry", "pcap") => "pcap",
                    _ => name,
                });
            }

            json.WriteEndObject();
            return;
        }

        if (value.IsArray())
        {
            json.WriteStartArray();
            foreach (var item in value.GetArray())
            {
                WriteValue(json, item, key switch
                {
                    "disks" => "disk-entry",
                    "nets" => "net-entry",
                    _ => key,
                });
            }

            json.WriteEndArray();
            return;
        }

        var text = value.GetString() ?? string.Empty;
        switch (key)
        {
            case "kernel" or "initrd" or "restore" or "disk-path" or "pcap" when text.Length > 0:
                json.WriteStringValue(Path.GetFullPath(text));
                break;
            case "disk-entry":
                var disk = DiskSettings.TryParse(text, out _);
                json.WriteStringValue(disk is null ? text : (disk with { Path = Path.GetFullPath(disk.Path) }).ToString());
                break;
            case "net-entry":
                var net = NetSettings.TryParse(text, out _);
                json.WriteStringValue(net?.Pcap is null ? text : (net with { Pcap = Path.GetFullPath(net.Pcap) }).ToString());
                break;
            case "cpus" when int.TryParse(text, out var number):
                json.WriteNumberValue(number);
                break;
            case "rng" or "read-only" or "start-paused":
                json.WriteBooleanValue(text is "on" or "true" or "yes");
                break;
            default:
                json.WriteStringValue(text);
                break;
        }
    }
}
