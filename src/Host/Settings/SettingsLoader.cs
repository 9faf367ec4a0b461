using Akka.Configuration;
using Akka.Configuration.Hocon;
using ActorVmm.Host.GuestConsole;
using ActorVmm.Actors.Settings;
using ActorVmm.Actors.Faults;

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
    private static readonly HashSet<string> OpenMaps = new(StringComparer.Ordinal) { "actorvmm.supervision.decider" };

    /// <summary>Keys whose value is a list (Akka's HOCON reports an empty list as neither array nor object).</summary>
    private static readonly HashSet<string> ListKeys = new(StringComparer.Ordinal) { "actorvmm.vm.disks", "actorvmm.faults" };

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
        var user = ParseHocon(hocon, sourceName);
        CheckKeys(user, reference, sourceName);

        var overrideList = overrides?.ToList() ?? [];
        var merged = user.WithFallback(reference);
        foreach (var o in overrideList)
        {
            var layer = ParseHocon($"{o.Key} = {o.Hocon}", o.Source);
            CheckKeys(layer, reference, o.Source);
            merged = layer.WithFallback(merged);
        }

        return new Reader(merged, user, sourceName, overrideList).Read();
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

    private static void CheckKeys(Config user, Config reference, string source)
    {
        if (user.IsEmpty || user.Root is null || !user.Root.IsObject())
        {
            return;
        }

        CheckObject(user.Root.GetObject(), reference.Root.GetObject(), prefix: string.Empty, source);
    }

    private static void CheckObject(HoconObject user, HoconObject reference, string prefix, string source)
    {
        foreach (var (key, value) in user.Items)
        {
            var path = prefix + key;
            if (!reference.Items.TryGetValue(key, out var referenceValue))
            {
                throw UnknownKey(path, key, reference, prefix, source);
            }

            if (ListKeys.Contains(path))
            {
                if (!IsList(value))
                {
                    throw Bad(source, path, "must be a list [ ... ]");
                }
            }
            else if (referenceValue.IsObject())
            {
                if (!value.IsObject())
                {
                    throw Bad(source, path, "must be an object { ... }");
                }

                if (!OpenMaps.Contains(path))
                {
                    CheckObject(value.GetObject(), referenceValue.GetObject(), path + ".", source);
                }
            }
            else if (value.IsObject())
            {
                throw Bad(source, path, referenceValue.IsArray() ? "must be a list [ ... ]" : "must be a value, not an object");
            }
            else if (referenceValue.IsArray() && !value.IsArray())
            {
                throw Bad(source, path, "must be a list [ ... ]");
            }
            else if (!referenceValue.IsArray() && value.IsArray())
            {
                throw Bad(source, path, "must be a single value, not a list");
            }
        }
    }

    private static SettingsException UnknownKey(string path, string key, HoconObject reference, string prefix, string source)
    {
        var best = reference.Items.Keys
            .Select(k => (Key: k, Distance: ValueParsers.Distance(k, key)))
            .Where(c => c.Distance <= Math.Max(2, key.Length / 3))
            .OrderBy(c => c.Distance)
            .Select(c => c.Key)
            .FirstOrDefault();
        var hint = best is not null
            ? $" (did you mean {prefix}{best}?)"
            : prefix.Length == 0 ? $" (settings live under {RootKey} {{ ... }})" : string.Empty;
        return new SettingsException($"{source}: unknown key {path}{hint}", path, source);
    }

    /// <summary>
    /// A list, including the empty list: Akka's <see cref="HoconValue.IsArray"/> is false for <c>[]</c> (one empty
    /// <see cref="HoconArray"/> element).
    /// </summary>
    private static bool IsList(HoconValue value) => value.Values.All(e => e is HoconArray) || value.IsArray();

    internal static bool IsOption(string source) => source.StartsWith('-');

    internal static SettingsException Bad(string source, string path, string detail) =>
        IsOption(source)
            ? new SettingsException($"{source} {detail}", path, source)
            : new SettingsException($"{source}: {path} {detail}", path, source);

    internal static string FirstLine(string message)
    {
        var line = message.Split('\n', 2)[0].Trim();
        return line.Length == 0 ? "unknown error" : line;
    }

    /// <summary>Typed reads of the merged configuration, naming the layer a bad value came from.</summary>
    private sealed class Reader(Config merged, Config user, string userSource, IReadOnlyList<SettingOverride> overrides)
    {
        public ActorVmmSettings Read()
        {
            var vm = ReadVm();
            var devices = new DeviceSettings(Duration("actorvmm.devices.read-timeout"));
            var supervision = ReadSupervision();
            var logging = ReadLogging();
            var tracing = ReadTracing();
            return new ActorVmmSettings(vm, devices, supervision, logging, tracing) { Faults = FaultPlans("actorvmm.faults") };
        }

        private VmSettings ReadVm()
        {
            var cpus = Int("actorvmm.vm.cpus", VmSettings.MinCpus, VmSettings.MaxCpus);
            var memory = Memory("actorvmm.vm.memory");
            var serial = Serial("actorvmm.vm.serial");
            var com2 = Serial("actorvmm.vm.com2");
            var com3 = Serial("actorvmm.vm.com3");
            var com4 = Serial("actorvmm.vm.com4");
            var stdioUser = (string?)null;
            foreach (var (key, spec) in new[] { ("actorvmm.vm.serial", serial), ("actorvmm.vm.com2", com2), ("actorvmm.vm.com3", com3), ("actorvmm.vm.com4", com4) })
            {
                if (spec.Kind != SerialSpecKind.Stdio)
                {
                    continue;
                }

                if (stdioUser is not null)
                {
                    throw Fail(key, $"cannot be stdio: {stdioUser} already uses stdio");
                }

                stdioUser = key;
            }

            return new VmSettings(
                cpus,
                memory,
                OptionalString("actorvmm.vm.kernel"),
                OptionalString("actorvmm.vm.initrd"),
                String("actorvmm.vm.cmdline"),
                serial,
                Enum<ConsoleDevice>("actorvmm.vm.console"),
                com2,
                com3,
                com4,
                Disks("actorvmm.vm.disks"),
                Bool("actorvmm.vm.rng"));
        }

        private SupervisionSettings ReadSupervision()
        {
            const string deciderPath = "actorvmm.supervision.decider";
            var decider = new Dictionary<string, SupervisionAction>(StringComparer.Ordinal);
            foreach (var (key, value) in Value(deciderPath).GetObject().Items)
            {
                var path = deciderPath + "." + key;
                if (value.IsObject() || value.IsArray() || !ValueParsers.TryParseEnum<SupervisionAction>(value.GetString() ?? string.Empty, out var action))
                {
                    throw Fail(deciderPath, $"must be {ValueParsers.Choices<SupervisionAction>()}: {Show(value)}", path);
                }

                decider[key] = action;
            }

            if (!decider.ContainsKey("default"))
            {
                throw Fail(deciderPath, "must have a default entry");
            }

            var maxRestarts = Int("actorvmm.supervision.max-restarts", 0, int.MaxValue);
            return new SupervisionSettings(
                maxRestarts,
                Duration("actorvmm.supervision.within"),
                Enum<RestartStateSource>("actorvmm.supervision.restart-state"),
                Enum<BudgetExceededPolicy>("actorvmm.supervision.on-budget-exceeded"),
                decider);
        }

        private LoggingSettings ReadLogging()
        {
            const string levelPath = "actorvmm.logging.level";
            var levelText = String(levelPath).Trim();
            LoggingLevel level;
            if (string.Equals(levelText, "warn", StringComparison.OrdinalIgnoreCase))
            {
                level = LoggingLevel.Warning;
            }
            else if (!ValueParsers.TryParseEnum(levelText, out level))
            {
                throw Fail(levelPath, $"must be {ValueParsers.Choices<LoggingLevel>()}: {levelText}");
            }

            return new LoggingSettings(
                level,
                Bool("actorvmm.logging.console"),
                OptionalString("actorvmm.logging.file"),
                Enum<LogFormat>("actorvmm.logging.format"));
        }

        private TracingSettings ReadTracing()
        {
            const string bufferPath = "actorvmm.tracing.buffer";
            var buffer = Int(bufferPath, TracingSettings.MinBuffer, TracingSettings.MaxBuffer);
            if ((buffer & (buffer - 1)) != 0)
            {
                throw Fail(bufferPath, $"must be a power of two: {buffer}");
            }

            const string samplePath = "actorvmm.tracing.latency-sample";
            int? sample = string.Equals(String(samplePath), "auto", StringComparison.OrdinalIgnoreCase)
                ? null
                : Int(samplePath, 1, TracingSettings.MaxLatencySample);
            return new TracingSettings(
                Bool("actorvmm.tracing.stats"),
                OptionalString("actorvmm.tracing.trace-file"),
                Enum<TraceFormat>("actorvmm.tracing.trace-format"),
                buffer,
                sample);
        }

        private HoconValue Value(string path) =>
            merged.GetValue(path) ?? throw new SettingsException($"reference.conf: {path} is missing", path, "reference.conf");

        private string String(string path)
        {
            var value = Value(path);
            if (value.IsObject() || value.IsArray())
            {
                throw Fail(path, "must be a single value");
            }

            return value.GetString() ?? string.Empty;
        }

        private string? OptionalString(string path)
        {
            var text = String(path);
            return string.IsNullOrWhiteSpace(text) ? null : text;
        }

        private int Int(string path, int min, int max)
        {
            var text = String(path);
            if (!ValueParsers.TryParseInt(text, out var value) || value < min || value > max)
            {
                var range = max == int.MaxValue ? $"an integer >= {min}" : $"an integer from {min} to {max}";
                throw Fail(path, $"must be {range}: {text}");
            }

            return value;
        }

        private ulong Memory(string path)
        {
            var text = String(path);
            if (!ValueParsers.TryParseSize(text, out var bytes))
            {
                throw Fail(path, $"must be a size (e.g. 512M, 2G or a number of bytes): {text}");
            }

            if (bytes < VmSettings.MinMemoryBytes)
            {
                throw Fail(path, $"must be at least 16M: {text}");
            }

            if (bytes > VmSettings.MaxMemoryBytes)
            {
                throw Fail(path, $"must be at most 1T: {text}");
            }

            if (bytes % VmSettings.PageSize != 0)
            {
                throw Fail(path, $"must be a multiple of 4 KiB: {text}");
            }

            return bytes;
        }

        private TimeSpan Duration(string path)
        {
            var text = String(path);
            if (!ValueParsers.TryParseDuration(text, out var duration) || duration <= TimeSpan.Zero)
            {
                throw Fail(path, $"must be a positive duration (e.g. 500ms, 1s, 2m): {text}");
            }

            return duration;
        }

        private bool Bool(string path)
        {
            var text = String(path);
            if (!ValueParsers.TryParseBoolean(text, out var value))
            {
                throw Fail(path, $"must be on or off: {text}");
            }

            return value;
        }

        private T Enum<T>(string path)
            where T : struct, System.Enum
        {
            var text = String(path);
            if (!ValueParsers.TryParseEnum<T>(text, out var value))
            {
                throw Fail(path, $"must be {ValueParsers.Choices<T>()}: {text}");
            }

            return value;
        }

        private SerialSpec Serial(string path)
        {
            if (!SerialSpec.TryParse(String(path), out var spec, out var error))
            {
                throw Fail(path, error);
            }

            return spec;
        }

        private IReadOnlyList<DiskSettings> Disks(string path)
        {
            var value = Value(path);
            if (!IsList(value))
            {
                throw Fail(path, "must be a list [ ... ]");
            }

            var disks = new List<DiskSettings>();
            if (value.Values.Count == 0 || value.Values.All(e => e is HoconArray a && a.Count == 0))
            {
                return disks;
            }

            var items = value.GetArray();
            for (var i = 0; i < items.Count; i++)
            {
                disks.Add(Disk(path, i, items[i]));
            }

            return disks;
        }

        private IReadOnlyList<FaultPlan> FaultPlans(string path)
        {
            var value = Value(path);
            if (!IsList(value))
            {
                throw Fail(path, "must be a list [ ... ]");
            }

            var plans = new List<FaultPlan>();
            if (value.Values.Count == 0 || value.Values.All(e => e is HoconArray a && a.Count == 0))
            {
                return plans;
            }

            var items = value.GetArray();
            for (var i = 0; i < items.Count; i++)
            {
                plans.Add(FaultPlan(path, i, items[i]));
            }

            return plans;
        }

        /// <summary>A fault entry: "DEVICE:KIND[,key=value...]" or { device = disk0, kind = crash, every = 100 }.</summary>
        private FaultPlan FaultPlan(string path, int index, HoconValue item)
        {
            var where = $"{path}[{index}]";
            if (item.IsArray())
            {
                throw Fail(path, $"entry {index} must be {{ device = ..., kind = ..., every = ... }} or \"DEVICE:KIND[,every=N]\"", where);
            }

            if (!item.IsObject())
            {
                var spec = item.GetString() ?? string.Empty;
                return Actors.Faults.FaultPlan.TryParse(spec, out var parsed, out var error)
                    ? parsed
                    : throw Fail(path, IsOption(SourceOf(path)) ? $"'{spec}': {error}" : $"entry {index} '{spec}': {error}", where);
            }

            string? device = null;
            string? kind = null;
            var options = new List<(string Key, string Value)>();
            foreach (var (key, field) in item.GetObject().Items)
            {
                if (field.IsObject() || field.IsArray())
                {
                    throw Fail(path, $"entry {index}: {key} must be a single value", where);
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
                throw Fail(path, $"entry {index} needs device and kind (e.g. {{ device = disk0, kind = crash, every = 100 }})", where);
            }

            return Actors.Faults.FaultPlan.TryCreate(device, kind, options, out var plan, out var problem)
                ? plan
                : throw Fail(path, $"entry {index}: {problem}", where);
        }

        private DiskSettings Disk(string path, int index, HoconValue item)
        {
            var where = $"{path}[{index}]";
            if (item.IsArray())
            {
                throw Fail(path, $"entry {index} must be {{ path = ..., read-only = ... }} or \"PATH[,ro]\"", where);
            }

            if (!item.IsObject())
            {
                var disk = DiskSettings.TryParse(item.GetString() ?? string.Empty, out var error);
                return disk ?? throw Fail(path, $"entry {index} {error}", where);
            }

            string? diskPath = null;
            var readOnly = false;
            foreach (var (key, field) in item.GetObject().Items)
            {
                var text = field.IsObject() || field.IsArray() ? null : field.GetString();
                switch (key)
                {
                    case "path":
                        if (string.IsNullOrWhiteSpace(text))
                        {
                            throw Fail(path, $"entry {index}: path must be a non-empty string", where);
                        }

                        diskPath = text;
                        break;
                    case "read-only":
                        if (text is null || !ValueParsers.TryParseBoolean(text, out readOnly))
                        {
                            throw Fail(path, $"entry {index}: read-only must be on or off: {Show(field)}", where);
                        }

                        break;
                    default:
                        throw Fail(path, $"entry {index}: unknown key {key} (a disk has path and read-only)", where);
                }
            }

            return diskPath is null
                ? throw Fail(path, $"entry {index} has no path", where)
                : new DiskSettings(diskPath, readOnly);
        }

        private SettingsException Fail(string path, string detail, string? shownPath = null)
        {
            var source = SourceOf(path);
            return Bad(source, shownPath ?? path, detail);
        }

        private string SourceOf(string path)
        {
            for (var i = overrides.Count - 1; i >= 0; i--)
            {
                var key = overrides[i].Key;
                if (key == path || path.StartsWith(key + ".", StringComparison.Ordinal) || key.StartsWith(path + ".", StringComparison.Ordinal))
                {
                    return overrides[i].Source;
                }
            }

            return !user.IsEmpty && user.HasPath(path) ? userSource : "reference.conf";
        }

        private static string Show(HoconValue value) =>
            value.IsObject() ? "{ ... }" : value.IsArray() ? "[ ... ]" : value.GetString() ?? string.Empty;
    }
}
