using System.Text;
using ActorVmm.Host.GuestConsole;
using Xunit;

namespace ActorVmm.Actors.Tests.GuestConsole;

public class StdinReaderSpecs
{
    [Fact]
    public async Task Piped_input_should_pass_through_including_Ctrl_A_and_stop_at_end_of_input()
    {
        var received = new MemoryStream();
        var quits = 0;
        var input = new MemoryStream(Encoding.ASCII.GetBytes("echo hi\n\u0001x more\n"));
        using var reader = new StdinReader(input, m => received.Write(m.Span), () => quits++, escapes: false);

        reader.Start();
        await reader.Completion;

        Assert.Equal("echo hi\n\u0001x more\n", Encoding.ASCII.GetString(received.ToArray()));
        Assert.Equal(0, quits);
        Assert.False(reader.IsRaw);
    }

    [Fact]
    public async Task With_escapes_Ctrl_A_x_should_quit_once_and_stop_reading()
    {
        var received = new MemoryStream();
        var quits = 0;
        var input = new MemoryStream(Encoding.ASCII.GetBytes("ls\r\u0001xreboot\r"));
        using var reader = new StdinReader(input, m => received.Write(m.Span), () => quits++, escapes: true);

        reader.Start();
        await reader.Completion;

        Assert.Equal("ls\r", Encoding.ASCII.GetString(received.ToArray()));
        Assert.Equal(1, quits);
    }

    [Fact]
    public async Task Ctrl_A_h_should_print_help_through_the_message_callback()
    {
        var messages = new List<string>();
        var input = new MemoryStream([0x01, (byte)'h']);
        using var reader = new StdinReader(input, _ => { }, () => { }, escapes: true, onMessage: messages.Add);

        reader.Start();
        await reader.Completion;

        Assert.Equal(new[] { EscapeFilter.HelpText }, messages);
    }

    [Fact]
    public async Task A_throwing_consumer_should_end_reading_not_the_process()
    {
        var input = new MemoryStream(new byte[10]);
        using var reader = new StdinReader(input, _ => throw new InvalidOperationException("queue full"), () => { }, escapes: false);

        reader.Start();
        await reader.Completion;

        Assert.IsType<InvalidOperationException>(reader.Error);
    }

    [Fact]
    public void Raw_mode_should_be_entered_only_when_stdin_is_a_terminal_and_always_restored()
    {
        var mode = TerminalMode.TryEnterRaw(CancellationToken.None, out var error);
        try
        {
            if (TerminalMode.StdinIsTerminal)
            {
                Assert.NotNull(mode);
                Assert.False(mode.IsRestored);
            }
            else
            {
                Assert.Null(mode);
                Assert.Equal("stdin is not a terminal", error);
            }
        }
        finally
        {
            mode?.Dispose();
        }

        Assert.True(mode is null || mode.IsRestored);
    }
}
