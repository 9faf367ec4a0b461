using ActorVmm.Kvm.Linux;
using Xunit;

namespace ActorVmm.Kvm.Tests.Linux;

public class CpuSetTests
{
    [Theory]
    [InlineData("0", new[] { 0 })]
    [InlineData("0-3", new[] { 0, 1, 2, 3 })]
    [InlineData("2,4,6,8", new[] { 2, 4, 6, 8 })]
    [InlineData(" 0-1 , 8 ", new[] { 0, 1, 8 })]
    [InlineData("7,3-4", new[] { 7, 3, 4 })]
    [InlineData("1023", new[] { 1023 })]
    public void A_cpulist_should_parse_to_its_cpus_in_the_order_given(string text, int[] cpus)
    {
        Assert.True(CpuSet.TryParse(text, out var set, out var error), error);

        Assert.Equal(cpus, set.Cpus);
    }

    [Theory]
    [InlineData("", "empty CPU list")]
    [InlineData("a", "'a' is not a CPU number or range")]
    [InlineData("0-", "'0-' is not a CPU number or range")]
    [InlineData("-1", "'-1' is not a CPU number or range")]
    [InlineData("1,,2", "'' is not a CPU number or range")]
    [InlineData("3-1", "range '3-1' runs backwards")]
    [InlineData("0-3,2", "CPU 2 is listed twice")]
    [InlineData("1024", "CPU 1024 is out of range: CPUs are numbered 0 to 1023")]
    [InlineData("0-5000", "CPU 5000 is out of range")]
    [InlineData("99999999999", "is not a CPU number or range")]
    public void A_malformed_cpulist_should_be_refused_with_a_phrase_naming_the_problem(string text, string expected)
    {
        Assert.False(CpuSet.TryParse(text, out var set, out var error));

        Assert.Null(set);
        Assert.Contains(expected, error, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error);
    }

    [Fact]
    public void Pick_should_map_item_i_to_the_i_th_cpu_modulo_the_count()
    {
        var set = CpuSet.Parse("2,4,6");

        Assert.Equal([2, 4, 6, 2, 4], Enumerable.Range(0, 5).Select(i => set.Pick(i).Cpus.Single()));
    }

    [Theory]
    [InlineData("0-3,8", "0-3,8")]
    [InlineData("2,4,6", "2,4,6")]
    [InlineData("5,0-1", "5,0-1")]
    public void ToString_should_fold_ascending_runs_and_parse_back_equal(string text, string expected)
    {
        var set = CpuSet.Parse(text);

        Assert.Equal(expected, set.ToString());
        Assert.Equal(set, CpuSet.Parse(set.ToString()));
    }

    [Fact]
    public void Outside_should_name_the_cpus_the_allowed_set_lacks()
    {
        Assert.Equal([5, 7], CpuSet.Parse("0,5,1,7").Outside(CpuSet.Parse("0-1")));
        Assert.Empty(CpuSet.Parse("1").Outside(CpuSet.Parse("0-1")));
    }

    [Fact]
    public void The_mask_should_hold_one_bit_per_cpu_and_read_back_ascending()
    {
        var mask = CpuSet.Parse("9,0,1023").ToMask();

        Assert.Equal(128, mask.Length);
        Assert.Equal(0x01, mask[0]);
        Assert.Equal(0x02, mask[1]);
        Assert.Equal(0x80, mask[127]);
        Assert.Equal([0, 9, 1023], CpuSet.FromMask(mask)!.Cpus);
        Assert.Null(CpuSet.FromMask(new byte[128]));
    }
}
