using Akka.Configuration.Hocon;
using ActorVmm.Actors.Settings;

namespace ActorVmm.Host.Settings;

/// <summary>
/// One virtio-blk disk: <c>{ path = "...", read-only = false, transport = mmio }</c> or
/// <c>--disk PATH[,ro][,transport=mmio|pci]</c>.
/// </summary>
public sealed record DiskSettings(string Path, bool ReadOnly)
{
    private const string TransportKey = ",transport=";

    /// <summary>The disk's own transport; null: the VM's (<see cref="VmSettings.Transport"/>).</summary>
    public VirtioTransportKind? Transport { get; init; }

    /// <summary>
    /// Parses <c>PATH</c>, <c>PATH,ro</c> or <c>PATH,rw</c>, each optionally followed by <c>,transport=mmio|pci</c>;
    /// null with an error when malformed.
    /// </summary>
    public static DiskSettings? TryParse(string spec, out string? error)
    {
        error = null;
        var path = spec;
        VirtioTransportKind? transport = null;
        var at = spec.LastIndexOf(TransportKey, StringComparison.Ordinal);
        if (at >= 0)
        {
            var value = spec[(at + TransportKey.Length)..];
            if (!ValueParsers.TryParseEnum<VirtioTransportKind>(value, out var kind))
            {
                error = $"transport must be {ValueParsers.Choices<VirtioTransportKind>()}: '{spec}'";
                return null;
            }

            transport = kind;
            path = spec[..at];
        }

        var readOnly = false;
        if (path.EndsWith(",ro", StringComparison.Ordinal))
        {
            path = path[..^3];
            readOnly = true;
        }
        else if (path.EndsWith(",rw", StringComparison.Ordinal))
        {
            path = path[..^3];
        }

        if (path.Length == 0)
        {
            error = $"must be PATH, PATH,ro or PATH,rw, then optional ,transport=mmio|pci: '{spec}'";
            return null;
        }

        return new DiskSettings(path, readOnly) { Transport = transport };
    }

    public override string ToString() =>
        (ReadOnly ? Path + ",ro" : Path) + (Transport is { } t ? TransportKey + t.ToString().ToLowerInvariant() : string.Empty);

    /// <summary>Reads the disk list at <paramref name="path"/>: entries <c>"PATH[,ro]"</c> or <c>{ path = ..., read-only = ... }</c>.</summary>
    internal static IReadOnlyList<DiskSettings> ListFromConfig(HoconReader reader, string path) =>
        reader.List(path, (index, item) => FromEntry(reader, path, index, item));

    private static DiskSettings FromEntry(HoconReader reader, string path, int index, HoconValue item)
    {
        var where = $"{path}[{index}]";
        if (item.IsArray())
        {
            throw reader.Fail(path, $"entry {index} must be {{ path = ..., read-only = ... }} or \"PATH[,ro]\"", where);
        }

        if (!item.IsObject())
        {
            var disk = TryParse(item.GetString() ?? string.Empty, out var error);
            return disk ?? throw reader.Fail(path, $"entry {index} {error}", where);
        }

        string? diskPath = null;
        var readOnly = false;
        VirtioTransportKind? transport = null;
        foreach (var (key, field) in item.GetObject().Items)
        {
            var text = field.IsObject() || field.IsArray() ? null : field.GetString();
            switch (key)
            {
                case "path":
                    if (string.IsNullOrWhiteSpace(text))
                    {
                        throw reader.Fail(path, $"entry {index}: path must be a non-empty string", where);
                    }

                    diskPath = text;
                    break;
                case "read-only":
                    if (text is null || !ValueParsers.TryParseBoolean(text, out readOnly))
                    {
                        throw reader.Fail(path, $"entry {index}: read-only must be on or off: {HoconReader.Show(field)}", where);
                    }

                    break;
                case "transport":
                    if (text is null || !ValueParsers.TryParseEnum<VirtioTransportKind>(text, out var kind))
                    {
                        throw reader.Fail(path, $"entry {index}: transport must be {ValueParsers.Choices<VirtioTransportKind>()}: {HoconReader.Show(field)}", where);
                    }

                    transport = kind;
                    break;
                default:
                    throw reader.Fail(path, $"entry {index}: unknown key {key} (a disk has path, read-only and transport)", where);
            }
        }

        return diskPath is null
            ? throw reader.Fail(path, $"entry {index} has no path", where)
            : new DiskSettings(diskPath, readOnly) { Transport = transport };
    }
}
