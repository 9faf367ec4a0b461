using System.Globalization;
using System.Text;

namespace ActorVmm.Host.Settings;

/// <summary>
/// One value layered over the VM file, e.g. from a command-line option.
/// <paramref name="Key"/> is the full HOCON path (<c>actorvmm.vm.memory</c>), <paramref name="Hocon"/> the value as
/// HOCON text, <paramref name="Source"/> what errors name (<c>--memory</c>).
/// </summary>
public sealed record SettingOverride(string Key, string Hocon, string Source)
{
    /// <summary>A string value, quoted so that nothing in it is read as HOCON syntax.</summary>
    public static SettingOverride String(string key, string value, string source) => new(key, Quote(value), source);

    public static SettingOverride Boolean(string key, bool value, string source) => new(key, value ? "on" : "off", source);

    /// <summary>Quotes <paramref name="value"/> as a HOCON (JSON) string.</summary>
    public static string Quote(string value)
    {
        var sb = new StringBuilder(value.Length + 2);
        sb.Append('"');
        foreach (var c in value)
        {
            switch (c)
            {
                case '"':
                    sb.Append("\\\"");
                    break;
                case '\\':
                    sb.Append("\\\\");
                    break;
                case '\n':
                    sb.Append("\\n");
                    break;
                case '\r':
                    sb.Append("\\r");
                    break;
                case '\t':
                    sb.Append("\\t");
                    break;
                default:
                    if (c < 0x20)
                    {
                        sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        sb.Append(c);
                    }

                    break;
            }
        }

        return sb.Append('"').ToString();
    }
}
