using ActorVmm.Kvm.Memory;

namespace ActorVmm.Kvm.Boot;

/// <summary>
/// Builds the e820 memory map the kernel sees from the guest's RAM regions: usable RAM below the EBDA
/// (0 – 0x9fc00), the EBDA and legacy BIOS/VGA area reserved (0x9fc00 – 1 MiB, where the MP table lives),
/// usable RAM from 1 MiB up to the 32-bit MMIO gap, and usable RAM above 4 GiB.
/// </summary>
public static class E820Map
{
    /// <summary>The e820 entries for <paramref name="ram"/>, sorted, adjacent entries of one type merged.</summary>
    /// <exception cref="ArgumentException">A RAM region lies in the 32-bit MMIO gap or wraps around.</exception>
    /// <exception cref="BootException">More entries than the zero page holds (128).</exception>
    public static IReadOnlyList<E820Entry> Build(IReadOnlyList<(GuestAddress Start, ulong Size)> ram)
    {
        ArgumentNullException.ThrowIfNull(ram);
        var pieces = new List<E820Entry>();
        foreach (var (start, size) in ram.OrderBy(r => r.Start.Value))
        {
            if (size == 0)
            {
                continue;
            }

            if (!start.TryAdd(size, out var endAddress))
            {
                throw new ArgumentException($"RAM region at {start} of 0x{size:x} bytes wraps around", nameof(ram));
            }

            var s = start.Value;
            var e = endAddress.Value;
            if (s < Layout.MmioGapEnd && e > Layout.MmioGapStart)
            {
                throw new ArgumentException(
                    $"RAM region [{start}, 0x{e:x}) overlaps the 32-bit MMIO gap [0x{Layout.MmioGapStart:x}, 0x{Layout.MmioGapEnd:x})",
                    nameof(ram));
            }

            AddClipped(pieces, s, e, 0, Layout.EbdaStart, E820Type.Ram);
            AddClipped(pieces, s, e, Layout.EbdaStart, Layout.HighMemoryStart, E820Type.Reserved);
            AddClipped(pieces, s, e, Layout.HighMemoryStart, Layout.MmioGapStart, E820Type.Ram);
            AddClipped(pieces, s, e, Layout.MmioGapEnd, ulong.MaxValue, E820Type.Ram);
        }

        var merged = new List<E820Entry>();
        foreach (var piece in pieces)
        {
            if (merged.Count > 0 && merged[^1].Type == piece.Type && merged[^1].End == piece.Addr)
            {
                var last = merged[^1];
                merged[^1] = new E820Entry(last.Addr, last.Size + piece.Size, last.Type);
            }
            else
            {
                merged.Add(piece);
            }
        }

        if (merged.Count > BootParams.MaxE820Entries)
        {
            throw new BootException(BootError.TableDoesNotFit,
                $"e820 map needs {merged.Count} entries; the zero page holds {BootParams.MaxE820Entries}");
        }

        return merged;
    }

    private static void AddClipped(List<E820Entry> into, ulong start, ulong end, ulong windowStart, ulong windowEnd, E820Type type)
    {
        var s = Math.Max(start, windowStart);
        var e = Math.Min(end, windowEnd);
        if (s < e)
        {
            into.Add(new E820Entry(s, e - s, type));
        }
    }
}
