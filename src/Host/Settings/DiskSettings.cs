using ActorVmm.Actors.Settings;
using ActorVmm.Actors.Faults;

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
}
