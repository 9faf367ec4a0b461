using System.Globalization;

namespace ActorVmm.Kvm.Memory;

/// <summary>
/// The host's pool of one huge page size, as /sys/kernel/mm/hugepages/hugepages-&lt;kB&gt;kB shows it. Guest RAM on
/// huge pages is reserved from it when mapped (MAP_HUGETLB without MAP_NORESERVE), so a pool too small is refused
/// before mapping, with the numbers and how to grow it, rather than at a guest page fault.
/// </summary>
/// <param name="readFile">Reads a sysfs file (null when it cannot be read); tests inject one.</param>
public sealed class HugePagePool(Func<string, string?> readFile)
{
    private const string SysfsRoot = "/sys/kernel/mm/hugepages";

    /// <summary>The pool of this host (reads sysfs).</summary>
    public static HugePagePool Host { get; } = new(ReadHostFile);

    /// <summary>The sysfs directory of a page size (<c>/sys/kernel/mm/hugepages/hugepages-2048kB</c>).</summary>
    public static string DirectoryOf(HugePages pages) =>
        $"{SysfsRoot}/hugepages-{(pages.Bytes() >> 10).ToString(CultureInfo.InvariantCulture)}kB";

    /// <summary>The pool's counters: pages in all, free, and free but reserved by mappings; null when the host has no such pool.</summary>
    public (ulong Total, ulong Free, ulong Reserved)? Read(HugePages pages)
    {
        var dir = DirectoryOf(pages);
        return Number($"{dir}/nr_hugepages") is { } total && Number($"{dir}/free_hugepages") is { } free
            && Number($"{dir}/resv_hugepages") is { } reserved
            ? (total, free, reserved)
            : null;
    }

    /// <summary>Throws unless the pool has <paramref name="bytes"/> of free, unreserved pages.</summary>
    /// <exception cref="GuestMemoryException"><see cref="GuestMemoryError.HugePagesUnavailable"/>, one line with the numbers.</exception>
    public void Check(HugePages pages, ulong bytes)
    {
        if (pages == HugePages.Off)
        {
            return;
        }

        var need = (bytes + pages.Bytes() - 1) / pages.Bytes();
        if (Read(pages) is not var (total, free, reserved))
        {
            throw new GuestMemoryException(GuestMemoryError.HugePagesUnavailable, GuestAddress.Zero, bytes,
                $"huge pages {pages.Name()}: this host has no pool of {pages.Name()} pages ({DirectoryOf(pages)} is missing or unreadable)");
        }

        var available = free > reserved ? free - reserved : 0;
        if (available < need)
        {
            throw new GuestMemoryException(GuestMemoryError.HugePagesUnavailable, GuestAddress.Zero, bytes,
                $"huge pages {pages.Name()}: guest RAM needs {need} pages, the pool has {available} available "
                + $"({total} in all, {free} free, {reserved} of them reserved); grow it as root: {GrowCommand(pages, total + need - available)}");
        }
    }

    /// <summary>The command that sets the pool to <paramref name="pages"/> (2M: the default size's /proc knob; else sysfs).</summary>
    public static string GrowCommand(HugePages size, ulong pages) =>
        size == HugePages.Size2M
            ? $"echo {pages} > /proc/sys/vm/nr_hugepages"
            : $"echo {pages} > {DirectoryOf(size)}/nr_hugepages";

    private ulong? Number(string path) =>
        readFile(path) is { } text && ulong.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;

    private static string? ReadHostFile(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
