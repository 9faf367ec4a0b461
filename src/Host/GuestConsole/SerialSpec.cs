namespace ActorVmm.Host.GuestConsole;

/// <summary>Kinds of host ends for a guest serial port / console.</summary>
public enum SerialSpecKind
{
    /// <summary>This process's stdin/stdout.</summary>
    Stdio,

    /// <summary>Guest output written to a file; no input.</summary>
    File,

    /// <summary>Not connected: output discarded, no input.</summary>
    None,
}

/// <summary>
/// The host end of a guest serial port: <c>stdio</c>, <c>file:PATH</c> or <c>none</c>
/// (<c>--serial</c>, <c>actorvmm.vm.serial</c>, <c>com2..com4</c>).
/// </summary>
public sealed record SerialSpec
{
    public static readonly SerialSpec Stdio = new(SerialSpecKind.Stdio, null);
    public static readonly SerialSpec None = new(SerialSpecKind.None, null);

    private SerialSpec(SerialSpecKind kind, string? path)
    {
        Kind = kind;
        Path = path;
    }

    public SerialSpecKind Kind { get; }

    /// <summary>The file path for <see cref="SerialSpecKind.File"/>; null otherwise.</summary>
    public string? Path { get; }

    public static SerialSpec File(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return new SerialSpec(SerialSpecKind.File, path);
    }

    /// <summary>Parses a spec; on failure returns false with a message phrased to follow the option or key name.</summary>
    public static bool TryParse(string? text, out SerialSpec spec, out string error)
    {
        spec = None;
        error = string.Empty;
        var value = text?.Trim() ?? string.Empty;
        if (value == "stdio")
        {
            spec = Stdio;
            return true;
        }

        if (value == "none")
        {
            spec = None;
            return true;
        }

        if (value.StartsWith("file:", StringComparison.Ordinal))
        {
            var path = value["file:".Length..];
            if (path.Length == 0)
            {
                error = "must name a file after file: (file:PATH)";
                return false;
            }

            spec = File(path);
            return true;
        }

        error = $"must be stdio, file:PATH or none: '{text}'";
        return false;
    }

    /// <summary>Parses a spec or throws <see cref="FormatException"/>.</summary>
    public static SerialSpec Parse(string text) =>
        TryParse(text, out var spec, out var error) ? spec : throw new FormatException("serial " + error);

    public override string ToString() => Kind switch
    {
        SerialSpecKind.Stdio => "stdio",
        SerialSpecKind.File => "file:" + Path,
        _ => "none",
    };
}
