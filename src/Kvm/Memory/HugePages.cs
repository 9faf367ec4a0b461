using ActorVmm.Kvm.Interop;

namespace ActorVmm.Kvm.Memory;

/// <summary>
/// Explicit huge pages (hugetlb) for guest RAM; each value is log2 of the page size, as MAP_HUGE_SHIFT wants it.
/// <see cref="Off"/>: ordinary anonymous memory (with MADV_HUGEPAGE, so transparent huge pages may still back it).
/// </summary>
public enum HugePages
{
    Off = 0,

    /// <summary>2 MiB pages (x86-64 PMD).</summary>
    Size2M = 21,

    /// <summary>1 GiB pages (x86-64 PUD; the host CPU needs pdpe1gb).</summary>
    Size1G = 30,
}

/// <summary>Sizes, names and mmap flags of <see cref="HugePages"/>.</summary>
public static class HugePagesExtensions
{
    /// <summary>The page size in bytes (0 for <see cref="HugePages.Off"/>).</summary>
    public static ulong Bytes(this HugePages pages) => pages == HugePages.Off ? 0 : 1UL << (int)pages;

    /// <summary>As the settings write it: <c>2M</c>, <c>1G</c>, or empty for off.</summary>
    public static string Name(this HugePages pages) => pages switch
    {
        HugePages.Size2M => "2M",
        HugePages.Size1G => "1G",
        _ => string.Empty,
    };

    /// <summary>Parses <c>2M</c> or <c>1G</c> (also <c>2MiB</c>, <c>1GiB</c>, any case); empty or blank is off.</summary>
    public static bool TryParse(string? text, out HugePages pages)
    {
        pages = (text?.Trim().ToUpperInvariant()) switch
        {
            null or "" => HugePages.Off,
            "2M" or "2MB" or "2MIB" => HugePages.Size2M,
            "1G" or "1GB" or "1GIB" => HugePages.Size1G,
            _ => (HugePages)(-1),
        };
        return pages != (HugePages)(-1);
    }

    /// <summary>MAP_HUGETLB with the page size in the MAP_HUGE_SHIFT bits (2M: 21 &lt;&lt; 26, 1G: 30 &lt;&lt; 26).</summary>
    internal static int MapFlags(this HugePages pages) =>
        pages == HugePages.Off ? 0 : Libc.MapHugeTlb | ((int)pages << Libc.MapHugeShift);
}
