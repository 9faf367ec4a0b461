namespace ActorVmm.Actors.Settings;

/// <summary>
/// A bad setting: an unknown key, a mistyped or out-of-range value, or a missing/unreadable file.
/// <see cref="Exception.Message"/> is one line meant for the user, naming the key and where it came from.
/// </summary>
public sealed class SettingsException : Exception
{
    public SettingsException(string message, string? key = null, string? source = null, Exception? inner = null)
        : base(message, inner)
    {
        Key = key;
        Source = source;
    }

    /// <summary>The HOCON path (<c>actorvmm.vm.memory</c>) the problem is about, when there is one.</summary>
    public string? Key { get; }

    /// <summary>Where the value came from: a file name, a command-line option (<c>--memory</c>) or <c>reference.conf</c>.</summary>
    public new string? Source { get; }

    /// <summary>Whether <paramref name="source"/> is a command-line option (<c>--memory</c>) rather than a file.</summary>
    internal static bool IsOption(string source) => source.StartsWith('-');

    /// <summary>A bad value: <c>--memory DETAIL</c> for an option, <c>FILE: PATH DETAIL</c> for a file.</summary>
    internal static SettingsException Bad(string source, string path, string detail) =>
        IsOption(source)
            ? new SettingsException($"{source} {detail}", path, source)
            : new SettingsException($"{source}: {path} {detail}", path, source);
}
