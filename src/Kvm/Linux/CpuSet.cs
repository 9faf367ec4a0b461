using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;

namespace ActorVmm.Kvm.Linux;

/// <summary>
/// A list of host CPU numbers in the kernel's cpulist form (<c>0-3</c>, <c>2,4,6,8</c>, <c>0-3,8</c>), in the order
/// given: <see cref="Pick"/> maps vCPU i to the i-th CPU (modulo the count). CPU numbers are 0..<see cref="MaxCpus"/>-1
/// (glibc's cpu_set_t) and each appears once.
/// </summary>
public sealed class CpuSet : IEquatable<CpuSet>
{
    /// <summary>CPUs a cpu_set_t holds (1024 bits): numbers from 0 to 1023.</summary>
    public const int MaxCpus = 1024;

    /// <summary>Bytes of a cpu_set_t.</summary>
    internal const int MaskBytes = MaxCpus / 8;

    private readonly int[] _cpus;

    private CpuSet(int[] cpus)
    {
        _cpus = cpus;
    }

    /// <summary>The CPU numbers, in the order given.</summary>
    public IReadOnlyList<int> Cpus => _cpus;

    public int Count => _cpus.Length;

    /// <summary>A set of the given CPUs (each 0..1023, once, at least one).</summary>
    public static CpuSet Of(params IEnumerable<int> cpus)
    {
        ArgumentNullException.ThrowIfNull(cpus);
        var list = cpus.ToArray();
        if (list.Length == 0 || list.Any(c => c is < 0 or >= MaxCpus) || list.Distinct().Count() != list.Length)
        {
            throw new ArgumentException("a CPU set holds at least one CPU, each from 0 to 1023 and once", nameof(cpus));
        }

        return new CpuSet(list);
    }

    /// <summary>Parses a cpulist; <paramref name="error"/> says what is wrong in one phrase.</summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out CpuSet? set, out string error)
    {
        set = null;
        error = string.Empty;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "empty CPU list";
            return false;
        }

        var cpus = new List<int>();
        var seen = new HashSet<int>();
        foreach (var raw in text.Split(','))
        {
            var item = raw.Trim();
            var dash = item.IndexOf('-', StringComparison.Ordinal);
            var firstText = dash < 0 ? item : item[..dash].Trim();
            var lastText = dash < 0 ? item : item[(dash + 1)..].Trim();
            if (!TryParseCpu(firstText, out var first) || !TryParseCpu(lastText, out var last))
            {
                error = $"'{item}' is not a CPU number or range";
                return false;
            }

            if (first >= MaxCpus || last >= MaxCpus)
            {
                error = $"CPU {Math.Max(first, last)} is out of range: CPUs are numbered 0 to {MaxCpus - 1}";
                return false;
            }

            if (last < first)
            {
                error = $"range '{item}' runs backwards";
                return false;
            }

            for (var cpu = first; cpu <= last; cpu++)
            {
                if (!seen.Add(cpu))
                {
                    error = $"CPU {cpu} is listed twice";
                    return false;
                }

                cpus.Add(cpu);
            }
        }

        set = new CpuSet([.. cpus]);
        return true;
    }

    /// <exception cref="FormatException">Not a cpulist (the message says why).</exception>
    public static CpuSet Parse(string text) =>
        TryParse(text, out var set, out var error) ? set : throw new FormatException(error);

    /// <summary>The one CPU for item <paramref name="index"/> (vCPU i): the (i mod <see cref="Count"/>)-th of the list.</summary>
    public CpuSet Pick(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        return new CpuSet([_cpus[index % _cpus.Length]]);
    }

    public bool Contains(int cpu) => Array.IndexOf(_cpus, cpu) >= 0;

    /// <summary>The CPUs of this list that <paramref name="allowed"/> lacks, in order.</summary>
    public IReadOnlyList<int> Outside(CpuSet allowed)
    {
        ArgumentNullException.ThrowIfNull(allowed);
        return [.. _cpus.Where(c => !allowed.Contains(c))];
    }

    /// <summary>The cpulist form, ascending runs folded into ranges (<c>0-3,8</c>); parses back to an equal set.</summary>
    public override string ToString()
    {
        var text = new StringBuilder();
        for (var i = 0; i < _cpus.Length;)
        {
            var j = i;
            while (j + 1 < _cpus.Length && _cpus[j + 1] == _cpus[j] + 1)
            {
                j++;
            }

            if (text.Length > 0)
            {
                text.Append(',');
            }

            text.Append(_cpus[i].ToString(CultureInfo.InvariantCulture));
            if (j > i)
            {
                text.Append('-').Append(_cpus[j].ToString(CultureInfo.InvariantCulture));
            }

            i = j + 1;
        }

        return text.ToString();
    }

    public bool Equals(CpuSet? other) => other is not null && _cpus.AsSpan().SequenceEqual(other._cpus);

    public override bool Equals(object? obj) => Equals(obj as CpuSet);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var cpu in _cpus)
        {
            hash.Add(cpu);
        }

        return hash.ToHashCode();
    }

    /// <summary>The cpu_set_t bit mask (bit n of byte n/8 for CPU n).</summary>
    internal byte[] ToMask()
    {
        var mask = new byte[MaskBytes];
        foreach (var cpu in _cpus)
        {
            mask[cpu / 8] |= (byte)(1 << (cpu % 8));
        }

        return mask;
    }

    /// <summary>The CPUs set in a cpu_set_t, ascending; null when none is.</summary>
    internal static CpuSet? FromMask(ReadOnlySpan<byte> mask)
    {
        var cpus = new List<int>();
        for (var cpu = 0; cpu < Math.Min(mask.Length * 8, MaxCpus); cpu++)
        {
            if ((mask[cpu / 8] & (1 << (cpu % 8))) != 0)
            {
                cpus.Add(cpu);
            }
        }

        return cpus.Count == 0 ? null : new CpuSet([.. cpus]);
    }

    private static bool TryParseCpu(string text, out int cpu)
    {
        cpu = 0;
        return text.Length is > 0 and <= 9 && text.All(char.IsAsciiDigit)
            && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out cpu);
    }
}
