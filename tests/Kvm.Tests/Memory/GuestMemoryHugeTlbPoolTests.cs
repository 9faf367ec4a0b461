using System.Globalization;
using ActorVmm.Kvm.Memory;
using Xunit;

namespace ActorVmm.Kvm.Tests.Memory;

/// <summary>
/// Guest RAM on the real 2M hugetlb pool, which the test grows for itself and puts back: it needs root, so it runs
/// with the KVM tests in the nested runner (no VM is created).
/// </summary>
[Trait("Category", "Kvm")]
public sealed class GuestMemoryHugeTlbPoolTests : IDisposable
{
    private const string NrHugePages = "/proc/sys/vm/nr_hugepages";
    private const string Pool2M = "/sys/kernel/mm/hugepages/hugepages-2048kB";

    private readonly string _dir = Directory.CreateTempSubdirectory("actorvmm-hugetlb-").FullName;
    private string? _before;

    /// <summary>Makes 16 free, unreserved pages the pool's only room; <see cref="Dispose"/> puts nr_hugepages back.</summary>
    private void GrowPool()
    {
        Assert.SkipUnless(Environment.UserName == "root" && File.Exists(NrHugePages), "growing the huge page pool needs root");
        _before = File.ReadAllText(NrHugePages).Trim();
        var target = ulong.Parse(_before, CultureInfo.InvariantCulture) - (Read("free_hugepages") - Read("resv_hugepages")) + 16;
        File.WriteAllText(NrHugePages, target.ToString(CultureInfo.InvariantCulture));
        Assert.Equal(16UL, Read("free_hugepages") - Read("resv_hugepages"));
    }

    public void Dispose()
    {
        if (_before is not null)
        {
            File.WriteAllText(NrHugePages, _before);
        }

        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void Mapping_should_reserve_the_pages_at_once_and_unmapping_give_them_back()
    {
        GrowPool();
        var reserved = Read("resv_hugepages");

        using (var memory = GuestMemory.Create([(GuestAddress.Zero, 8UL << 20), (new GuestAddress(16UL << 20), 4UL << 20)], HugePages.Size2M))
        {
            Assert.Equal(reserved + 6, Read("resv_hugepages"));
            Assert.All(memory.Regions, r => Assert.Equal(0UL, (ulong)r.HostAddress % (2UL << 20)));
            memory.Write(new GuestAddress((20UL << 20) - 1), (byte)0x5A);
            Assert.Equal(0x5A, memory.Read<byte>(new GuestAddress((20UL << 20) - 1)));
            Assert.Equal(reserved + 5, Read("resv_hugepages"));
        }

        Assert.Equal(reserved, Read("resv_hugepages"));
    }

    [Fact]
    public void A_snapshot_image_should_load_into_huge_pages_byte_for_byte()
    {
        GrowPool();
        var layout = new[] { (GuestAddress.Zero, 8UL << 20), (new GuestAddress(16UL << 20), 4UL << 20) };
        var image = Path.Combine(_dir, "memory.img");
        var pattern = Enumerable.Range(0, 5000).Select(i => (byte)(i * 7)).ToArray();
        using (var source = GuestMemory.Create(layout, HugePages.Size2M))
        {
            source.Write(new GuestAddress(0x1000), pattern);
            source.Write(new GuestAddress((16UL << 20) + 0x3ff000), pattern.AsSpan(0, 4096));
            source.WriteSparseImage(image);
        }

        using var loaded = GuestMemory.LoadFile(layout, image, HugePages.Size2M);

        var back = new byte[pattern.Length];
        loaded.Read(new GuestAddress(0x1000), back);
        Assert.Equal(pattern, back);
        loaded.Read(new GuestAddress((16UL << 20) + 0x3ff000), back.AsSpan(0, 4096));
        Assert.Equal(pattern.AsSpan(0, 4096).ToArray(), back.AsSpan(0, 4096).ToArray());
        Assert.Equal(0, loaded.Read<byte>(new GuestAddress(0x3000)));
    }

    private static ulong Read(string file) => ulong.Parse(File.ReadAllText($"{Pool2M}/{file}").Trim(), CultureInfo.InvariantCulture);
}
