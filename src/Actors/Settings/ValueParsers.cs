using System.Globalization;
using System.Text.RegularExpressions;

namespace ActorVmm.Actors.Settings;

/// <summary>HOCON sizes, durations and booleans, parsed strictly (no partial matches, no overflow).</summary>
internal static partial class ValueParsers
{
    [GeneratedRegex(@"^\s*(\d+)\s*([A-Za-z]*)\s*$")]
    private static partial Regex SizePattern();

    [GeneratedRegex(@"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")]
    private static partial Regex DurationPattern();

    private static readonly Dictionary<string, ulong> SizeUnits = new(StringComparer.Ordinal)
    {
        [""] = 1,
        ["B"] = 1,
        ["b"] = 1,
        ["byte"] = 1,
        ["bytes"] = 1,
        ["K"] = 1UL << 10,
        ["k"] = 1UL << 10,
        ["Ki"] = 1UL << 10,
        ["KiB"] = 1UL << 10,
        ["KB"] = 1000,
        ["kB"] = 1000,
        ["M"] = 1UL << 20,
        ["m"] = 1UL << 20,
        ["Mi"] = 1UL << 20,
        ["MiB"] = 1UL << 20,
        ["MB"] = 1000_000,
        ["G"] = 1UL << 30,
        ["g"] = 1UL << 30,
        ["Gi"] = 1UL << 30,
        ["GiB"] = 1UL << 30,
        ["GB"] = 1000_000_000,
        ["T"] = 1UL << 40,
        ["t"] = 1UL << 40,
        ["Ti"] = 1UL << 40,
        ["TiB"] = 1UL << 40,
        ["TB"] = 1000_000_000_000,
    };

    private static readonly Dictionary<string, double> DurationUnitsInMs = new(StringComparer.Ordinal)
    {
        [""] = 1,
        ["ns"] = 1e-6,
        ["nanos"] = 1e-6,
        ["nanosecond"] = 1e-6,
        ["nanoseconds"] = 1e-6,
        ["us"] = 1e-3,
        ["micros"] = 1e-3,
        ["microsecond"] = 1e-3,
        ["microseconds"] = 1e-3,
        ["ms"] = 1,
        ["millis"] = 1,
        ["millisecond"] = 1,
        ["milliseconds"] = 1,
        ["s"] = 1000,
        ["second"] = 1000,
        ["seconds"] = 1000,
        ["m"] = 60_000,
        ["minute"] = 60_000,
        ["minutes"] = 60_000,
        ["h"] = 3_600_000,
        ["hour"] = 3_600_000,
        ["hours"] = 3_600_000,
        ["d"] = 86_400_000,
        ["day"] = 86_400_000,
        ["days"] = 86_400_000,
    };

    /// <summary>512M, 2G, 1048576, 4KiB, 1GB (powers of 1000 only for KB/MB/GB/TB).</summary>
    public static bool TryParseSize(string text, out ulong bytes)
    {
        bytes = 0;
        var match = SizePattern().Match(text);
        if (!match.Success || !SizeUnits.TryGetValue(match.Groups[2].Value, out var unit))
        {
            return false;
        }

        if (!ulong.TryParse(match.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var number))
        {
            return false;
        }

        try
        {
            bytes = checked(number * unit);
            return true;
        }
        catch (OverflowException)
        {
            return false;
        }
    }

    /// <summary>1s, 500ms, 2m, 1.5h; a bare number is milliseconds. Negative durations are not durations.</summary>
    public static bool TryParseDuration(string text, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        var match = DurationPattern().Match(text);
        if (!match.Success || !DurationUnitsInMs.TryGetValue(match.Groups[2].Value, out var unitMs))
        {
            return false;
        }

        if (!double.TryParse(match.Groups[1].Value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
        {
            return false;
        }

        var ms = number * unitMs;
        if (double.IsNaN(ms) || double.IsInfinity(ms) || ms > TimeSpan.MaxValue.TotalMilliseconds)
        {
            return false;
        }

        duration = TimeSpan.FromTicks((long)Math.Round(ms * TimeSpan.TicksPerMillisecond));
        return true;
    }

    /// <summary>on/off, true/false, yes/no (any case).</summary>
    public static bool TryParseBoolean(string text, out bool value)
    {
        switch (text.Trim().ToLowerInvariant())
        {
            case "on":
            case "true":
            case "yes":
                value = true;
                return true;
            case "off":
            case "false":
            case "no":
                value = false;
                return true;
            default:
                value = false;
                return false;
        }
    }

    public static bool TryParseInt(string text, out int value) =>
        int.TryParse(text.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);

    /// <summary>Kebab-case enum values: <c>power-on</c> → <c>PowerOn</c>, <c>stop-vm</c> → <c>StopVm</c>.</summary>
    public static bool TryParseEnum<T>(string text, out T value)
        where T : struct, Enum
    {
        var compact = text.Trim().Replace("-", string.Empty, StringComparison.Ordinal);
        if (compact.Length > 0 && compact.All(char.IsLetter) && Enum.TryParse(compact, ignoreCase: true, out value))
        {
            return true;
        }

        value = default;
        return false;
    }

    /// <summary>The kebab-case spellings of an enum's values, for error messages: "stop-vm|stop-device".</summary>
    public static string Choices<T>()
        where T : struct, Enum =>
        string.Join('|', Enum.GetNames<T>().Select(Kebab));

    public static string Kebab(string pascal)
    {
        var sb = new System.Text.StringBuilder();
        for (var i = 0; i < pascal.Length; i++)
        {
            if (i > 0 && char.IsUpper(pascal[i]))
            {
                sb.Append('-');
            }

            sb.Append(char.ToLowerInvariant(pascal[i]));
        }

        return sb.ToString();
    }

    /// <summary>Edit distance, for "did you mean" hints.</summary>
    public static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }
}
