using ActorVmm.Host.GuestConsole;
using Xunit;

namespace ActorVmm.Actors.Tests.GuestConsole;

public class EscapeFilterSpecs
{
    private readonly EscapeFilter _filter = new();
    private readonly List<byte> _guest = [];
    private readonly List<EscapeCommand> _commands = [];

    private bool Feed(params byte[] input) => _filter.Process(input, m => _guest.AddRange(m.ToArray()), _commands.Add);

    [Fact]
    public void Plain_input_should_pass_through_unchanged()
    {
        Assert.True(Feed((byte)'l', (byte)'s', 0x03, (byte)'\r'));

        Assert.Equal(new byte[] { (byte)'l', (byte)'s', 0x03, (byte)'\r' }, _guest);
        Assert.Empty(_commands);
    }

    [Fact]
    public void Ctrl_A_x_should_quit_and_drop_what_follows()
    {
        Assert.False(Feed((byte)'a', 0x01, (byte)'x', (byte)'b'));

        Assert.Equal(new[] { EscapeCommand.Quit }, _commands);
        Assert.Equal(new[] { (byte)'a' }, _guest);
    }

    [Fact]
    public void Escape_split_across_reads_should_still_quit()
    {
        Assert.True(Feed(0x01));
        Assert.False(Feed((byte)'x'));

        Assert.Equal(new[] { EscapeCommand.Quit }, _commands);
        Assert.Empty(_guest);
    }

    [Fact]
    public void Ctrl_A_Ctrl_A_should_send_one_Ctrl_A()
    {
        Assert.True(Feed(0x01, 0x01, (byte)'z'));

        Assert.Equal(new byte[] { 0x01, (byte)'z' }, _guest);
        Assert.Empty(_commands);
    }

    [Fact]
    public void Ctrl_A_h_should_ask_for_help()
    {
        Assert.True(Feed(0x01, (byte)'h'));

        Assert.Equal(new[] { EscapeCommand.Help }, _commands);
        Assert.Empty(_guest);
    }

    [Fact]
    public void Unknown_escape_should_send_both_bytes()
    {
        Assert.True(Feed(0x01, (byte)'q'));

        Assert.Equal(new byte[] { 0x01, (byte)'q' }, _guest);
    }

    [Fact]
    public void Random_garbage_should_never_throw_and_only_quit_on_ctrl_a_x()
    {
        var random = new Random(1234);
        for (var round = 0; round < 200; round++)
        {
            var input = new byte[random.Next(0, 64)];
            random.NextBytes(input);
            var filter = new EscapeFilter();
            var quit = false;
            var result = filter.Process(input, _ => { }, c => quit |= c == EscapeCommand.Quit);
            Assert.Equal(!quit, result);
        }
    }
}
