using ActorVmm.Kvm.Interop;
using ActorVmm.Kvm.X86;
using Xunit;

namespace ActorVmm.Kvm.Tests.X86;

public class SnapshotMsrsTests
{
    [Fact]
    public void Select_should_keep_every_reported_msr_once_with_tsc_first_and_tsc_deadline_last()
    {
        uint[] reported =
        [
            SnapshotMsrs.Ia32TscDeadline, X86Msrs.Star, SnapshotMsrs.KvmSystemTimeNew, X86Msrs.Ia32Tsc,
            SnapshotMsrs.KvmWallClockNew, X86Msrs.Star, SnapshotMsrs.Ia32ApicBase,
        ];

        var selected = SnapshotMsrs.Select(reported);

        Assert.Equal(
            [X86Msrs.Ia32Tsc, X86Msrs.Star, SnapshotMsrs.KvmSystemTimeNew, SnapshotMsrs.KvmWallClockNew, SnapshotMsrs.Ia32ApicBase, SnapshotMsrs.Ia32TscDeadline],
            selected);
    }

    [Fact]
    public void Select_should_not_invent_msrs_kvm_did_not_report()
    {
        Assert.Equal([X86Msrs.Star], SnapshotMsrs.Select([X86Msrs.Star]));
        Assert.Empty(SnapshotMsrs.Select([]));
    }

    [Fact]
    public void Select_should_refuse_more_msrs_than_a_snapshot_holds()
    {
        var many = Enumerable.Range(0, SnapshotMsrs.MaxMsrs + 1).Select(i => (uint)i).ToArray();

        var e = Assert.Throws<KvmException>(() => SnapshotMsrs.Select(many));

        Assert.Contains("4097", e.Message);
    }

    [Fact]
    public void ReadReadable_should_skip_each_msr_the_reader_stops_at_and_keep_reading_after_it()
    {
        var unreadable = new HashSet<uint> { 2, 3, 6 };
        var calls = 0;

        // A fake KVM_GET_MSRS: reads entries in order until the first unreadable one.
        int Read(Span<KvmMsrEntry> entries)
        {
            calls++;
            for (var i = 0; i < entries.Length; i++)
            {
                if (unreadable.Contains(entries[i].Index))
                {
                    return i;
                }

                entries[i].Data = entries[i].Index * 100;
            }

            return entries.Length;
        }

        var msrs = SnapshotMsrs.ReadReadable([1, 2, 3, 4, 5, 6], Read);

        Assert.Equal([1u, 4u, 5u], msrs.Select(m => m.Index));
        Assert.Equal([100UL, 400UL, 500UL], msrs.Select(m => m.Data));
        Assert.Equal(3, calls);
    }

    [Fact]
    public void ReadReadable_should_refuse_a_reader_that_claims_more_than_it_was_given()
    {
        Assert.Throws<KvmException>(() => SnapshotMsrs.ReadReadable([1, 2], entries => entries.Length + 1));
    }
}
