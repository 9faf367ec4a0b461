using System.Globalization;
using System.Text;
using ActorVmm.Actors.Settings;
using ActorVmm.Devices.Net;

namespace ActorVmm.Actors.Faults;

/// <summary>
/// One fault to inject into one device: <c>--fault DEVICE:KIND[,TRIGGER][,delay=D][,mask=M]</c>, e.g.
/// <c>disk0:crash,every=100</c>, <c>serial0:drop,p=0.01,seed=42</c>, <c>rng0:delay,after=2s,delay=200us</c>,
/// <c>serial0:corrupt,offset=5,mask=0x20</c>, <c>disk0:io-error,every=50</c>; on a NIC, per frame it sends:
/// <c>net0:drop,p=0.3,seed=7</c>, <c>net0:delay,delay=20ms,jitter=5ms</c>, <c>net0:corrupt,bits=3</c>,
/// <c>net0:duplicate,every=10</c>, <c>net0:reorder,every=4</c>, <c>net0:rate,rate=10m</c>, <c>net0:partition,after=5s</c>.
/// </summary>
/// <param name="Device">The device's name in the VM (<c>disk0</c>, <c>console0</c>, <c>rng0</c>, <c>serial0</c>, ...).</param>
/// <param name="Kind">What the fault does.</param>
/// <param name="Trigger">When it fires (<see cref="FaultTrigger.Always"/> when none is given).</param>
/// <param name="Delay">For <see cref="FaultKind.Delay"/>: how long the access waits (default 1 ms, at most 10 s).</param>
/// <param name="Mask">For <see cref="FaultKind.Corrupt"/>: XORed into the little-endian value a read returns (default 0x1).</param>
/// <param name="Jitter">For <see cref="FaultKind.Delay"/> on a NIC: each frame waits a further random 0..Jitter, drawn from the plan's seed.</param>
/// <param name="Bits">For <see cref="FaultKind.Corrupt"/> on a NIC: how many distinct random bits of the Ethernet frame flip (0: not given, 1).</param>
/// <param name="Rate">For <see cref="FaultKind.Rate"/>: bits per second (<c>rate=10m</c>; k, m, g are powers of 1000).</param>
public sealed partial record FaultPlan(
    string Device,
    FaultKind Kind,
    FaultTrigger Trigger,
    TimeSpan Delay = default,
    ulong Mask = 1,
    TimeSpan Jitter = default,
    int Bits = 0,
    long Rate = 0)
{
    public static readonly TimeSpan DefaultDelay = TimeSpan.FromMilliseconds(1);
    public static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(10);

    /// <summary>Most bits one corrupt plan flips in a frame.</summary>
    public const int MaxBits = 64;

    /// <summary>Slowest and fastest <c>rate=</c> (bits per second).</summary>
    public const long MinRate = 1_000;

    public const long MaxRate = 100_000_000_000;

    /// <summary>The delay a <see cref="FaultKind.Delay"/> plan applies.</summary>
    public TimeSpan EffectiveDelay => Delay > TimeSpan.Zero ? Delay : DefaultDelay;

    /// <summary>The bits a NIC's <see cref="FaultKind.Corrupt"/> plan flips per frame.</summary>
    public int EffectiveBits => Bits > 0 ? Bits : 1;

    /// <summary>For <see cref="FaultKind.Rate"/>: the token bucket's depth in bytes, 10 ms at the rate and at least one full-size Ethernet frame.</summary>
    public long RateBurstBytes => Math.Max(Rate / 8 / 100, 1600);

    /// <summary>For <see cref="FaultKind.Rate"/>: the backlog's bound in bytes, 100 ms at the rate, at least two of the largest frames, at most 8 MiB.</summary>
    public long RateBacklogBytes => Math.Clamp(Rate / 8 / 10, 2L * NetFrame.MaxSize, 8L << 20);

    /// <summary>Kinds that only a NIC takes (its port applies them to frames).</summary>
    public static bool IsNetOnly(FaultKind kind) => kind is FaultKind.Duplicate or FaultKind.Reorder or FaultKind.Rate or FaultKind.Partition;

    /// <summary>The kind as written in specs: crash, delay, drop, corrupt, io-error, duplicate, reorder, rate, partition.</summary>
    public static string KindName(FaultKind kind) => ValueParsers.Kebab(kind.ToString());

    /// <summary>Parses a spec; throws <see cref="SettingsException"/> with a one-line reason naming <paramref name="source"/>.</summary>
    public static FaultPlan Parse(string spec, string source = "--fault") =>
        TryParse(spec, out var plan, out var error) ? plan : throw new SettingsException($"{source} '{spec}': {error}", "actorvmm.faults", source);

    /// <summary>Parses <c>DEVICE:KIND[,key=value...]</c>; on failure <paramref name="error"/> is a one-line reason.</summary>
    public static bool TryParse(string spec, out FaultPlan plan, out string error)
    {
        plan = null!;
        var colon = spec.IndexOf(':');
        if (colon < 0)
        {
            error = "expected DEVICE:KIND[,every=N | ,p=P,seed=S | ,after=DURATION | ,offset=O], e.g. disk0:crash,every=100";
            return false;
        }

        var parts = spec[(colon + 1)..].Split(',');
        var options = new List<(string Key, string Value)>();
        for (var i = 1; i < parts.Length; i++)
        {
            var eq = parts[i].IndexOf('=');
            if (eq <= 0)
            {
                error = $"expected key=value, not '{parts[i].Trim()}'";
                return false;
            }

            options.Add((parts[i][..eq].Trim(), parts[i][(eq + 1)..].Trim()));
        }

        return TryCreate(spec[..colon].Trim(), parts[0].Trim(), options, out plan, out error);
    }

    /// <summary>Builds a plan from a device, a kind name and key=value options (the HOCON object form uses this too).</summary>
    public static bool TryCreate(string device, string kindText, IReadOnlyList<(string Key, string Value)> options, out FaultPlan plan, out string error)
    {
        plan = null!;
        if (!IsDeviceName(device))
        {
            error = $"'{device}' is not a device name (letters, digits, '-' or '_', e.g. disk0)";
            return false;
        }

        if (!TryParseKind(kindText, out var kind))
        {
            error = $"unknown fault kind '{kindText}' (crash, delay, drop, corrupt, io-error, duplicate, reorder, rate or partition)";
            return false;
        }

        FaultTrigger? trigger = null;
        double? p = null;
        ulong? seed = null;
        TimeSpan? delay = null;
        ulong? mask = null;
        TimeSpan? jitter = null;
        int? bits = null;
        long? rate = null;
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value) in options)
        {
            if (!seen.Add(key))
            {
                error = $"{key} is given twice";
                return false;
            }

            switch (key.ToLowerInvariant())
            {
                case "every":
                    if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n < 1)
                    {
                        error = $"every must be a whole number >= 1: {value}";
                        return false;
                    }

                    if (!SetTrigger(ref trigger, FaultTrigger.EveryNth(n), out error))
                    {
                        return false;
                    }

                    break;
                case "p":
                    if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var pv) || !(pv > 0 && pv <= 1))
                    {
                        error = $"p must be a probability in (0, 1], e.g. 0.01: {value}";
                        return false;
                    }

                    p = pv;
                    break;
                case "seed":
                    if (!TryParseUnsigned(value, out var s))
                    {
                        error = $"seed must be a whole number >= 0: {value}";
                        return false;
                    }

                    seed = s;
                    break;
                case "after":
                    if (!ValueParsers.TryParseDuration(value, out var after) || after < TimeSpan.Zero)
                    {
                        error = $"after must be a duration, e.g. 500ms, 5s: {value}";
                        return false;
                    }

                    if (!SetTrigger(ref trigger, FaultTrigger.AfterTime(after), out error))
                    {
                        return false;
                    }

                    break;
                case "offset":
                    if (!TryParseUnsigned(value, out var offset))
                    {
                        error = $"offset must be a register offset, e.g. 5 or 0x14: {value}";
                        return false;
                    }

                    if (!SetTrigger(ref trigger, FaultTrigger.AtOffset(offset), out error))
                    {
                        return false;
                    }

                    break;
                case "delay":
                    if (!ValueParsers.TryParseDuration(value, out var d) || d <= TimeSpan.Zero || d > MaxDelay)
                    {
                        error = $"delay must be a duration from 1us to 10s, e.g. 200us, 5ms: {value}";
                        return false;
                    }

                    delay = d;
                    break;
                case "mask":
                    if (!TryParseUnsigned(value, out var m) || m == 0)
                    {
                        error = $"mask must be a non-zero number, e.g. 0x1 or 0x80: {value}";
                        return false;
                    }

                    mask = m;
                    break;
                case "jitter":
                    if (!ValueParsers.TryParseDuration(value, out var j) || j <= TimeSpan.Zero || j > MaxDelay)
                    {
                        error = $"jitter must be a duration from 1us to 10s, e.g. 5ms: {value}";
                        return false;
                    }

                    jitter = j;
                    break;
                case "bits":
                    if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var b) || b is < 1 or > MaxBits)
                    {
                        error = $"bits must be a whole number from 1 to {MaxBits}: {value}";
                        return false;
                    }

                    bits = b;
                    break;
                case "rate":
                    if (!TryParseRate(value, out var r))
                    {
                        error = $"rate must be bits per second from 1k to 100g, e.g. 10m or 512k: {value}";
                        return false;
                    }

                    rate = r;
                    break;
                default:
                    error = $"unknown option '{key}' (every, p, seed, after, offset, delay, jitter, mask, bits, rate)";
                    return false;
            }
        }

        if (seed is not null && p is null)
        {
            error = "seed goes with p=P";
            return false;
        }

        if (p is { } probability && !SetTrigger(ref trigger, FaultTrigger.WithProbability(probability, seed ?? 1), out error))
        {
            return false;
        }

        if (delay is not null && kind != FaultKind.Delay)
        {
            error = "delay= applies only to the delay kind";
            return false;
        }

        if (mask is not null && kind != FaultKind.Corrupt)
        {
            error = "mask= applies only to the corrupt kind";
            return false;
        }

        if (jitter is not null && kind != FaultKind.Delay)
        {
            error = "jitter= applies only to the delay kind (e.g. net0:delay,delay=20ms,jitter=5ms)";
            return false;
        }

        if (bits is not null && kind != FaultKind.Corrupt)
        {
            error = "bits= applies only to the corrupt kind";
            return false;
        }

        if (bits is not null && mask is not null)
        {
            error = "give mask= (a register read) or bits= (a NIC's frames), not both";
            return false;
        }

        if (rate is not null && kind != FaultKind.Rate)
        {
            error = "rate= applies only to the rate kind";
            return false;
        }

        if (kind == FaultKind.Rate && rate is null)
        {
            error = "rate needs rate=BITS-PER-SECOND, e.g. rate=10m";
            return false;
        }

        trigger ??= FaultTrigger.Always;
        if (kind == FaultKind.IoError && trigger.Kind == FaultTriggerKind.Offset)
        {
            error = "io-error fails virtio-blk requests; offset= does not apply (use every, p or after)";
            return false;
        }

        if (IsNetOnly(kind) && trigger.Kind == FaultTriggerKind.Offset)
        {
            error = $"{KindName(kind)} applies to a NIC's frames; offset= does not apply (use every, p or after)";
            return false;
        }

        plan = new FaultPlan(device, kind, trigger, delay ?? default, mask ?? 1, jitter ?? default, bits ?? 0, rate ?? 0);
        error = string.Empty;
        return true;
    }

    /// <summary>The spec form, parseable by <see cref="Parse"/>.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder().Append(Device).Append(':').Append(KindName(Kind));
        var trigger = Trigger.ToString();
        if (trigger.Length > 0)
        {
            sb.Append(',').Append(trigger);
        }

        if (Kind == FaultKind.Delay)
        {
            sb.Append(",delay=").Append(FormatDelay(EffectiveDelay));
            if (Jitter > TimeSpan.Zero)
            {
                sb.Append(",jitter=").Append(FormatDelay(Jitter));
            }
        }

        if (Kind == FaultKind.Corrupt)
        {
            if (Bits > 0)
            {
                sb.Append(",bits=").Append(Bits.ToString(CultureInfo.InvariantCulture));
            }
            else
            {
                sb.Append(",mask=0x").Append(Mask.ToString("x", CultureInfo.InvariantCulture));
            }
        }

        if (Kind == FaultKind.Rate)
        {
            sb.Append(",rate=").Append(FormatRate(Rate));
        }

        return sb.ToString();
    }

    /// <summary>Bits per second: digits with an optional k, m or g (powers of 1000), from 1k to 100g.</summary>
    internal static bool TryParseRate(string text, out long bitsPerSecond)
    {
        bitsPerSecond = 0;
        if (text.Length == 0)
        {
            return false;
        }

        var unit = char.ToLowerInvariant(text[^1]) switch
        {
            'k' => 1_000L,
            'm' => 1_000_000L,
            'g' => 1_000_000_000L,
            _ => 1L,
        };
        var digits = unit == 1 ? text : text[..^1];
        if (!long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n > MaxRate / unit)
        {
            return false;
        }

        bitsPerSecond = n * unit;
        return bitsPerSecond is >= MinRate and <= MaxRate;
    }

    private static string FormatRate(long bitsPerSecond) =>
        bitsPerSecond % 1_000_000_000 == 0 ? $"{bitsPerSecond / 1_000_000_000}g"
        : bitsPerSecond % 1_000_000 == 0 ? $"{bitsPerSecond / 1_000_000}m"
        : bitsPerSecond % 1_000 == 0 ? $"{bitsPerSecond / 1_000}k"
        : bitsPerSecond.ToString(CultureInfo.InvariantCulture);

    private static string FormatDelay(TimeSpan delay) =>
        delay.Ticks % TimeSpan.TicksPerMillisecond == 0
            ? Supervision.RestartBudget.Format(delay)
            : string.Create(CultureInfo.InvariantCulture, $"{delay.Ticks / 10}us");

    private static bool SetTrigger(ref FaultTrigger? trigger, FaultTrigger value, out string error)
    {
        if (trigger is not null)
        {
            error = $"one trigger per fault: {trigger} and {value} (give two --fault options instead)";
            return false;
        }

        trigger = value;
        error = string.Empty;
        return true;
    }

    private static bool TryParseKind(string text, out FaultKind kind)
    {
        foreach (var candidate in Enum.GetValues<FaultKind>())
        {
            if (string.Equals(text, KindName(candidate), StringComparison.OrdinalIgnoreCase)
                || string.Equals(text, candidate.ToString(), StringComparison.OrdinalIgnoreCase))
            {
                kind = candidate;
                return true;
            }
        }

        kind = default;
        return false;
    }

    private static bool TryParseUnsigned(string text, out ulong value) =>
        text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? ulong.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value)
            : ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);

    private static bool IsDeviceName(string name) =>
        name.Length is > 0 and <= 64 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');
}
