using ActorVmm.Devices.Legacy;
using Xunit;

namespace ActorVmm.Devices.Tests.Legacy;

public sealed class QuietPortTests
{
    [Fact]
    public void PortSink_should_keep_the_last_POST_code_and_count_writes()
    {
        var post = PortSink.PostCode();

        Assert.Null(post.LastValue);
        post.Out(0, 0x12);
        post.Out(0, 0x34);

        Assert.Equal(0x34u, post.LastValue);
        Assert.Equal(2, post.Stats.Writes);
        Assert.Equal("post", post.Name);
    }

    [Fact]
    public void PortSink_should_read_all_ones_by_default_and_a_chosen_value_otherwise()
    {
        var ones = new PortSink("port87");
        var zeros = new PortSink("lpt", size: 3, readValue: 0x00);
        var word = new byte[2];

        ones.Read(0, word);
        Assert.Equal(new byte[] { 0xff, 0xff }, word);
        zeros.Read(1, word);
        Assert.Equal(new byte[] { 0x00, 0x00 }, word);
    }

    [Fact]
    public void PortSink_should_accept_wide_writes_that_fit_its_range()
    {
        var sink = new PortSink("com2", size: 8);

        sink.Write(4, [0x78, 0x56, 0x34, 0x12]);

        Assert.Equal(0x12345678u, sink.LastValue);
        Assert.Equal(4UL, sink.LastWriteOffset);
        Assert.Equal(0, sink.Stats.BadSizeAccesses);
    }

    [Theory]
    [InlineData(0UL, 3)]
    [InlineData(0UL, 8)]
    [InlineData(0UL, 0)]
    public void PortSink_should_count_bad_sizes(ulong offset, int size)
    {
        var sink = new PortSink("post", size: 8);
        var data = new byte[size];

        sink.Read(offset, data);
        sink.Write(offset, data);

        Assert.All(data, b => Assert.Equal(0xff, b));
        Assert.Equal(2, sink.Stats.BadSizeAccesses);
        Assert.Null(sink.LastValue);
    }

    [Theory]
    [InlineData(1UL, 1)]
    [InlineData(0UL, 2)]
    [InlineData(ulong.MaxValue, 4)]
    public void PortSink_should_count_accesses_that_do_not_fit(ulong offset, int size)
    {
        var sink = new PortSink("post", readValue: 0x00);
        var data = new byte[size];

        sink.Read(offset, data);
        sink.Write(offset, data);

        Assert.All(data, b => Assert.Equal(0xff, b));
        Assert.Equal(1, sink.Stats.UnhandledReads);
        Assert.Equal(1, sink.Stats.UnhandledWrites);
        Assert.Null(sink.LastValue);
    }

    [Fact]
    public void PortSink_should_keep_its_last_value_through_save_and_restore()
    {
        var sink = PortSink.PostCode();
        sink.Out(0, 0xaa);

        var restarted = PortSink.PostCode();
        restarted.RestoreState(sink.SaveState());

        Assert.Equal(0xaau, restarted.LastValue);
        restarted.Reset();
        Assert.Null(restarted.LastValue);
    }

    [Fact]
    public void SystemControlPortB_should_toggle_the_timer_output_and_refresh_bits_so_wait_loops_end()
    {
        var port = new SystemControlPortB();
        port.Out(0, SystemControlPortB.Timer2Gate);

        var seenHigh = false;
        var seenLow = false;
        for (var i = 0; i < 2; i++)
        {
            var value = port.In(0);
            Assert.Equal(SystemControlPortB.Timer2Gate, value & SystemControlPortB.WritableBits);
            seenHigh |= (value & SystemControlPortB.Timer2Output) != 0;
            seenLow |= (value & SystemControlPortB.Timer2Output) == 0;
        }

        Assert.True(seenHigh);
        Assert.True(seenLow);
    }

    [Fact]
    public void SystemControlPortB_should_ignore_writes_to_read_only_bits_and_restore()
    {
        var port = new SystemControlPortB();
        port.Out(0, 0xf3);
        var restarted = new SystemControlPortB();
        restarted.RestoreState(port.SaveState());

        Assert.Equal(0x03, restarted.In(0) & 0x0f);
        Assert.Equal(0xff, restarted.In(1));
        Assert.Equal(1, restarted.Stats.UnhandledReads);
    }

    [Fact]
    public void FastA20Gate_should_request_a_reset_once_on_a_rising_bit_0()
    {
        var resets = 0;
        var port92 = new FastA20Gate("port92", () => resets++);

        port92.Out(0, FastA20Gate.A20Enabled);
        Assert.Equal(0, resets);
        port92.Out(0, FastA20Gate.A20Enabled | FastA20Gate.FastReset);
        port92.Out(0, FastA20Gate.A20Enabled | FastA20Gate.FastReset);
        Assert.Equal(1, resets);
        port92.Out(0, FastA20Gate.A20Enabled);
        port92.Out(0, FastA20Gate.FastReset);

        Assert.Equal(2, resets);
        Assert.Equal(2, port92.ResetRequests);
        Assert.False(port92.A20);
    }

    [Fact]
    public void FastA20Gate_should_report_A20_and_survive_bad_accesses()
    {
        var resets = 0;
        var port92 = new FastA20Gate("port92", () => resets++);

        Assert.Equal(FastA20Gate.DefaultValue, port92.In(0));
        port92.Write(0, [0xff, 0xff]);
        port92.Out(1, 0xff);

        Assert.Equal(0, resets);
        Assert.Equal(1, port92.Stats.BadSizeAccesses);
        Assert.Equal(1, port92.Stats.UnhandledWrites);
        Assert.True(port92.A20);
        var restarted = new FastA20Gate("port92", () => resets++);
        port92.Out(0, 0);
        restarted.RestoreState(port92.SaveState());
        Assert.False(restarted.A20);
    }
}
