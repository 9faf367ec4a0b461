using Akka.Configuration.Hocon;
using ActorVmm.Actors.Settings;

namespace ActorVmm.Host.Settings;

/// <summary>One virtio-blk disk: <c>{ path = "...", read-only = false }</c> or <c>--disk PATH[,ro]</c>.</summary>
public sealed record DiskSettings(string Path, bool ReadOnly)
{
    /// <summary>Parses <c>PATH</c>, <c>PATH,ro</c> or <c>PATH,rw</c>; null with an error when malformed.</summary>
    public static DiskSettings? TryParse(string spec, out string? error)
    {
        error = null;
        var path = spec;
        var readOnly = false;
        if (spec.EndsWith(",ro", StringComparison.Ordinal))
        {
            path = spec[..^3];
            readOnly = true;
        }
        else if (spec.EndsWith(",rw", StringComparison.Ordinal))
        {
            path = spec[..^3];
        }

        if (path.Length == 0)
        {
            error = $"must be PATH, PATH,ro or PATH,rw: '{spec}'";
            return null;
        }

        return new DiskSettings(path, readOnly);
    }

    public override string ToString() => ReadOnly ? Path + ",ro" : Path;

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
                default:
                    throw reader.Fail(path, $"entry {index}: unknown key {key} (a disk has path and read-only)", where);
            }
        }

        return diskPath is null
            ? throw reader.Fail(path, $"entry {index} has no path", where)
            : new DiskSettings(diskPath, readOnly);
    }
}
