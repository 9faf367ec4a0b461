using ActorVmm.Kvm.X86;
using Xunit;

namespace ActorVmm.Kvm.Tests.X86;

/// <summary>APIC id packing, validation and parsing of <see cref="CpuTopology"/>.</summary>
public class CpuTopologyTests
{
    [Fact]
    public void Flat_topology_should_number_apic_ids_like_vcpu_indexes()
    {
        var t = new CpuTopology(1, 1, 4, 1);

        Assert.Equal(t, CpuTopology.Flat(4));
        Assert.Equal([0, 1, 2, 3], t.ApicIds());
        Assert.Equal(3, t.MaxApicId);
        Assert.Equal((0, 2, 2), (t.ThreadBits, t.CoreBits, t.PackageOffset));
    }

    [Fact]
    public void Two_sockets_of_two_cores_of_two_threads_should_pack_thread_core_and_socket_bits()
    {
        var t = new CpuTopology(2, 1, 2, 2);

        Assert.Equal([0, 1, 2, 3, 4, 5, 6, 7], t.ApicIds());
        Assert.Equal((1, 1, 0, 2), (t.ThreadBits, t.CoreBits, t.DieBits, t.PackageOffset));
        Assert.Equal((1, 1, 0, 1), (t.SocketId(7), t.CoreId(7), t.DieId(7), t.ThreadId(7)));
        Assert.Equal((1, 0, 0, 1), (t.SocketId(5), t.CoreId(5), t.DieId(5), t.ThreadId(5)));
    }

    [Fact]
    public void Three_cores_per_die_should_take_two_bits_and_leave_gaps()
    {
        var t = new CpuTopology(2, 2, 3, 1);

        Assert.Equal([0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14], t.ApicIds());
        Assert.Equal(14, t.MaxApicId);
        Assert.Equal((2, 3), (t.DieOffset, t.PackageOffset));
        Assert.True(t.IsValid(out _));
    }

    [Fact]
    public void The_largest_flat_topology_should_use_ids_up_to_253()
    {
        var t = CpuTopology.Flat(254);

        Assert.Equal(Enumerable.Range(0, 254), t.ApicIds());
        Assert.Equal(253, t.MaxApicId);
        Assert.True(t.IsValid(out _));
    }

    [Theory]
    [InlineData(3, 1, 65, 1, "needs APIC ids up to 320")]
    [InlineData(7, 1, 5, 5, "needs APIC ids up to 420")]
    [InlineData(1, 1, 255, 1, "cores must be 1..254, not 255")]
    [InlineData(1, 9, 2, 1, "dies must be 1..8, not 9")]
    [InlineData(254, 254, 254, 254, "dies must be 1..8, not 254")]
    [InlineData(1, 0, 4, 1, "dies must be 1..254, not 0")]
    [InlineData(1, 1, 4, -1, "threads must be 1..254, not -1")]
    public void Unusable_topologies_should_say_why(int sockets, int dies, int cores, int threads, string expected)
    {
        var t = new CpuTopology(sockets, dies, cores, threads);

        Assert.False(t.IsValid(out var error));
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", 4, 1, 1, 4, 1)]
    [InlineData("sockets=2,cores=2,threads=2", 8, 2, 1, 2, 2)]
    [InlineData("threads=2, sockets=2", 8, 2, 1, 2, 2)]
    [InlineData("sockets=2", 8, 2, 1, 4, 1)]
    [InlineData("sockets=2,dies=2,cores=3", 12, 2, 2, 3, 1)]
    [InlineData("SOCKETS=1", 3, 1, 1, 3, 1)]
    public void Parse_should_fill_omitted_fields(string text, int count, int sockets, int dies, int cores, int threads)
    {
        var t = CpuTopology.TryParse(text, count, out var error);

        Assert.True(t is not null, error);
        Assert.Equal(new CpuTopology(sockets, dies, cores, threads), t);
        Assert.Equal(t, CpuTopology.Parse(t.Describe(), count));
    }

    [Theory]
    [InlineData("sockets=3", 8, "sockets=3,dies=1,threads=1 do not divide 8 vCPUs")]
    [InlineData("cores=3", 8, "sockets=1,dies=1,cores=3,threads=1 is 3 vCPUs, not 8")]
    [InlineData("cores=0", 8, "cores must be a whole number 1..254, not '0'")]
    [InlineData("cores=x", 8, "cores must be a whole number 1..254, not 'x'")]
    [InlineData("cores", 8, "'cores' is not field=number")]
    [InlineData("modules=2", 8, "unknown field 'modules'")]
    [InlineData("cores=2,cores=2", 4, "cores given twice")]
    [InlineData("cores=4,,threads=2", 8, "empty field")]
    [InlineData("", 255, "255 vCPUs: must be 1..254")]
    [InlineData("sockets=3,cores=65", 195, "needs APIC ids up to 320")]
    public void Parse_should_refuse_bad_topologies_in_one_line(string text, int count, string expected)
    {
        Assert.Null(CpuTopology.TryParse(text, count, out var error));
        Assert.Contains(expected, error, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error);
        Assert.Throws<FormatException>(() => CpuTopology.Parse(text, count));
    }
}
